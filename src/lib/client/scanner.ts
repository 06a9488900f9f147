/**
 * The in-app QR scanner: the camera at HD where the phone has it, the app's own frame loop, and
 * ZXing-C++ (WebAssembly, src/lib/client/scanner/decode.ts) reading the scan box at video-pixel
 * resolution. The wasm is served from our own origin and precached, so scanning works offline and
 * leaks no request to a CDN. Loaded lazily: only the pages with a camera pay for it.
 *
 * Nothing here runs at import time: the module may be loaded where there is no window.
 */
import wasmUrl from 'zxing-wasm/reader/zxing_reader.wasm?url';
import { RepeatFilter, scanBoxInVideo, viewPointToVideo, type Size } from '$lib/core/scan-frame';
import { decodePhoto, FrameReader, loadDecoder } from './scanner/decode';

function prepareDecoder(): Promise<unknown> {
  return loadDecoder(new URL(wasmUrl, location.href).href);
}

export type CameraProblem = 'denied' | 'no-camera' | 'busy' | 'insecure' | 'other';

/** What went wrong, from the error getUserMedia (or our own start-up) threw. */
export function cameraProblemOf(err: unknown): CameraProblem {
  if ((err as { problem?: unknown } | null)?.problem === 'insecure') return 'insecure';
  const text = String(err instanceof Error ? `${err.name} ${err.message}` : err);
  if (/NotAllowed|Permission|denied|SecurityError/i.test(text)) return 'denied';
  if (/NotReadable|TrackStartError|Could not start video source/i.test(text)) return 'busy';
  // An OverconstrainedError is not "no camera": every constraint is only a wish and the last try
  // asks for any camera at all, so if it still comes it is something else.
  if (/NotFound|DevicesNotFound|Requested device not found/i.test(text)) return 'no-camera';
  return 'other';
}

/**
 * The streams asked for, best first: the rear camera at 1280×720 (enough pixels for a poster a
 * metre away, few enough for a cheap phone to decode a dozen frames a second), then the rear
 * camera at whatever it gives, then any camera. All are wishes (`ideal`), yet some browsers still
 * refuse a wish they cannot meet, so a refusal of that kind moves on to the next.
 */
const STREAM_WISHES: MediaStreamConstraints[] = [
  { audio: false, video: { facingMode: { ideal: 'environment' }, width: { ideal: 1280 }, height: { ideal: 720 } } },
  { audio: false, video: { facingMode: { ideal: 'environment' } } },
  { audio: false, video: true }
];

/** Errors after which a smaller wish may still succeed; any other (denied, no camera) ends the search. */
const TRY_NEXT = new Set(['OverconstrainedError', 'ConstraintNotSatisfiedError', 'TypeError', 'NotReadableError', 'AbortError']);

async function openCamera(): Promise<MediaStream> {
  let last: unknown = null;
  for (const wish of STREAM_WISHES) {
    try {
      return await navigator.mediaDevices.getUserMedia(wish);
    } catch (err) {
      last = err;
      if (!(err instanceof Error) || !TRY_NEXT.has(err.name)) throw err;
    }
  }
  throw last;
}

/** At most this many frames a second are decoded: a dozen is quick to the eye and leaves a cheap phone's CPU some rest. */
const MAX_FPS = 12;
/** After a tap to focus, the camera goes back to following the scene after this long. */
const FOCUS_HOLD_MS = 3000;

/** Camera capabilities that TypeScript's DOM types do not list yet. */
interface CameraCapabilities extends MediaTrackCapabilities {
  torch?: boolean;
  focusMode?: string[];
}

export interface Scanner {
  torchSupported: boolean;
  setTorch(on: boolean): Promise<void>;
  /** Focuses on a point of the view (CSS pixels from its top left), where the camera can; otherwise nothing. */
  focusAt(point: { x: number; y: number }): Promise<void>;
  /** The camera's picture size, for the view's geometry. */
  videoSize(): Size;
  stop(): Promise<void>;
}

/**
 * Starts the camera in `video` and reads codes from the scan box of `view()` (the view's size in
 * CSS pixels, which shows the video with object-fit: cover). `onCode` gets each code once, and the
 * same code again only after a pause (RepeatFilter).
 */
export async function startScanner(video: HTMLVideoElement, view: () => Size, onCode: (text: string) => void): Promise<Scanner> {
  if (!window.isSecureContext || !navigator.mediaDevices?.getUserMedia) throw Object.assign(new Error('insecure context'), { problem: 'insecure' as const });
  // The wasm loads while the person answers the permission prompt.
  const decoderReady = prepareDecoder();
  const stream = await openCamera();
  const track = stream.getVideoTracks()[0];
  let stopped = false;
  const stopTracks = () => stream.getTracks().forEach((t) => t.stop());
  try {
    video.muted = true;
    video.playsInline = true;
    video.srcObject = stream;
    await video.play();
    await decoderReady;
  } catch (err) {
    stopTracks();
    throw err;
  }

  const capabilities: CameraCapabilities = track?.getCapabilities?.() ?? {};
  const focusModes = capabilities.focusMode ?? [];
  if (track && focusModes.includes('continuous')) {
    await track.applyConstraints({ advanced: [{ focusMode: 'continuous' } as MediaTrackConstraintSet] }).catch(() => {});
  }

  const reader = new FrameReader();
  const repeats = new RepeatFilter();
  let decoding = false;
  let lastDecode = -Infinity;
  // After a decode, the loop rests as long as it took: on a slow phone, at most half the main thread goes to decoding.
  let restUntil = -Infinity;
  let frameRequest: { cancel: () => void } | null = null;

  const schedule = () => {
    if (stopped) return;
    if ('requestVideoFrameCallback' in video) {
      const handle = video.requestVideoFrameCallback(tick);
      frameRequest = { cancel: () => video.cancelVideoFrameCallback(handle) };
    } else {
      const handle = requestAnimationFrame(tick);
      frameRequest = { cancel: () => cancelAnimationFrame(handle) };
    }
  };

  function tick() {
    if (stopped) return;
    const now = performance.now();
    // One decode in flight at most, no more than MAX_FPS, and a rest after each: a slow phone skips frames instead of queueing them.
    if (!decoding && now - lastDecode >= 1000 / MAX_FPS && now >= restUntil && video.readyState >= video.HAVE_CURRENT_DATA && video.videoWidth > 0) {
      decoding = true;
      lastDecode = now;
      const size = { width: video.videoWidth, height: video.videoHeight };
      const shown = view();
      reader
        .read(video, scanBoxInVideo(size, shown.width > 0 && shown.height > 0 ? shown : size))
        .then((texts) => {
          const text = texts[0];
          if (!stopped && text !== undefined && repeats.accept(text, Date.now())) onCode(text);
        })
        .catch(() => {
          // A frame that cannot be read (the video changed size mid-frame): the next one will be.
        })
        .finally(() => {
          decoding = false;
          const end = performance.now();
          restUntil = end + (end - now);
        });
    }
    schedule();
  }
  schedule();

  let focusTimer: ReturnType<typeof setTimeout> | undefined;

  return {
    torchSupported: capabilities.torch === true,
    async setTorch(on) {
      await track?.applyConstraints({ advanced: [{ torch: on } as MediaTrackConstraintSet] });
    },
    async focusAt(point) {
      if (!track || stopped) return;
      const settings = track.getSettings() as MediaTrackSettings & { pointsOfInterest?: unknown };
      const wish: Record<string, unknown> = {};
      if ('pointsOfInterest' in settings) wish.pointsOfInterest = [viewPointToVideo(point, { width: video.videoWidth, height: video.videoHeight }, view())];
      if (focusModes.includes('single-shot')) wish.focusMode = 'single-shot';
      else if (focusModes.includes('continuous')) wish.focusMode = 'continuous';
      if (Object.keys(wish).length === 0) return;
      await track.applyConstraints({ advanced: [wish as MediaTrackConstraintSet] }).catch(() => {});
      clearTimeout(focusTimer);
      if (wish.focusMode === 'single-shot' && focusModes.includes('continuous')) {
        focusTimer = setTimeout(() => {
          if (!stopped) void track.applyConstraints({ advanced: [{ focusMode: 'continuous' } as MediaTrackConstraintSet] }).catch(() => {});
        }, FOCUS_HOLD_MS);
      }
    },
    videoSize() {
      return { width: video.videoWidth, height: video.videoHeight };
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      clearTimeout(focusTimer);
      frameRequest?.cancel();
      stopTracks();
      video.srcObject = null;
    }
  };
}

/** Reads a QR code from a photo (the fallback when there is no camera or no permission); null when none reads. */
export async function scanPhoto(file: File): Promise<string | null> {
  try {
    await prepareDecoder();
    const picture = await createImageBitmap(file);
    try {
      return await decodePhoto(picture);
    } finally {
      picture.close();
    }
  } catch {
    return null;
  }
}
