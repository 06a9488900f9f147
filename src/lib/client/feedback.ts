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

/**
 * Read, and recorded, but the declaration needs a second look (symptoms, a case contact, travel
 * from a level 3–4 unit, not from today): two mid tones and a long buzz, unlike both the quick
 * "ok" and the low "not accepted", so the staff look up before waving the person in.
 */
export function signalAttention(): void {
  buzz([200, 100, 200]);
  beep(600, 0.15);
  setTimeout(() => beep(600, 0.15), 220);
}
