/** A short beep and buzz when a code is read: people in a queue look up from the screen. */
let audio: AudioContext | null = null;

export function signalSuccess(): void {
  buzz([80]);
  beep(880, 0.12);
}

export function signalProblem(): void {
  buzz([60, 60, 60]);
  beep(330, 0.25);
}

function buzz(pattern: number[]): void {
  try {
    navigator.vibrate?.(pattern);
  } catch {
    // vibration is a nicety
  }
}

function beep(frequency: number, seconds: number): void {
  try {
    audio ??= new AudioContext();
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.frequency.value = frequency;
    gain.gain.setValueAtTime(0.15, audio.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + seconds);
    osc.connect(gain).connect(audio.destination);
    osc.start();
    osc.stop(audio.currentTime + seconds);
  } catch {
    // no audio without a user gesture on some browsers: the screen says it all anyway
  }
}
