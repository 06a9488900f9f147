/**
 * The in-app QR scanner: html5-qrcode drives the camera; decoding goes to ZXing-C++ (WebAssembly)
 * through the `barcode-detector` ponyfill, served from our own origin so it works offline and
 * leaks no request to a CDN. Loaded lazily: only the scan page pays for it.
 *
 * html5-qrcode alternates frames between a BarcodeDetector and its own zxing-js decoder; with the
 * ponyfill installed every other frame goes to ZXing-C++, which reads the hard frames
 * (bench/decoder.mjs compares the two). zxing-wasm is pinned to the version barcode-detector bundles: see scanner-wasm.test.ts.
 */
import { Html5Qrcode, Html5QrcodeSupportedFormats } from 'html5-qrcode';
import { BarcodeDetector, prepareZXingModule } from 'barcode-detector/ponyfill';
import wasmUrl from 'zxing-wasm/reader/zxing_reader.wasm?url';

let prepared = false;

function prepareDecoder(): void {
  if (prepared) return;
  prepared = true;
  prepareZXingModule({
    overrides: { locateFile: (path: string, prefix: string) => (path.endsWith('.wasm') ? new URL(wasmUrl, location.href).href : prefix + path) },
    fireImmediately: true
  });
  // Chromium on Linux and most browsers have no native BarcodeDetector; where one exists, keep it.
  if (!('BarcodeDetector' in window)) (window as unknown as { BarcodeDetector: unknown }).BarcodeDetector = BarcodeDetector;
}

export type CameraProblem = 'denied' | 'no-camera' | 'busy' | 'insecure' | 'other';

/** What went wrong, from the error html5-qrcode passes on (often a string: "Error getting userMedia, error = NotAllowedError: …"). */
export function cameraProblemOf(err: unknown): CameraProblem {
  if ((err as { problem?: unknown } | null)?.problem === 'insecure') return 'insecure';
  const text = String(err instanceof Error ? `${err.name} ${err.message}` : err);
  if (/NotAllowed|Permission|denied|SecurityError/i.test(text)) return 'denied';
  if (/NotReadable|TrackStartError|Could not start video source/i.test(text)) return 'busy';
  if (/NotFound|DevicesNotFound|Requested device not found|OverconstrainedError/i.test(text)) return 'no-camera';
  return 'other';
}

export interface Scanner {
  torchSupported: boolean;
  setTorch(on: boolean): Promise<void>;
  stop(): Promise<void>;
}

export async function startScanner(elementId: string, onCode: (text: string) => void): Promise<Scanner> {
  if (!window.isSecureContext || !navigator.mediaDevices?.getUserMedia) throw Object.assign(new Error('insecure context'), { problem: 'insecure' as const });
  prepareDecoder();
  const qr = new Html5Qrcode(elementId, {
    formatsToSupport: [Html5QrcodeSupportedFormats.QR_CODE],
    useBarCodeDetectorIfSupported: true,
    verbose: false
  });
  await qr.start(
    { facingMode: 'environment' },
    {
      fps: 12,
      // A square box two thirds of the shorter side: big enough for a poster a metre away.
      qrbox: (w, h) => {
        const side = Math.max(160, Math.floor(Math.min(w, h) * 0.7));
        return { width: side, height: side };
      }
    },
    (text) => onCode(text),
    () => {
      // "no code in this frame": the normal case, nothing to say
    }
  );
  let torchSupported = false;
  try {
    torchSupported = qr.getRunningTrackCameraCapabilities().torchFeature().isSupported();
  } catch {
    torchSupported = false;
  }
  return {
    torchSupported,
    async setTorch(on) {
      await qr.getRunningTrackCameraCapabilities().torchFeature().apply(on);
    },
    async stop() {
      try {
        if (qr.isScanning) await qr.stop();
        qr.clear();
      } catch {
        // already stopped
      }
    }
  };
}

/** Reads a QR code from a photo (the fallback when there is no camera or no permission). */
export async function scanPhoto(elementId: string, file: File): Promise<string | null> {
  prepareDecoder();
  const qr = new Html5Qrcode(elementId, { formatsToSupport: [Html5QrcodeSupportedFormats.QR_CODE], useBarCodeDetectorIfSupported: true, verbose: false });
  try {
    return await qr.scanFile(file, false);
  } catch {
    return null;
  } finally {
    try {
      qr.clear();
    } catch {
      // nothing shown
    }
  }
}
