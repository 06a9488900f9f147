/** Saves a text as a file on the device; nothing is uploaded. */
export function downloadText(filename: string, text: string, type: string): void {
  downloadBlob(filename, new Blob([text], { type }));
}

/** Saves bytes (a PDF, a picture) as a file on the device; nothing is uploaded. */
export function downloadBytes(filename: string, bytes: Uint8Array, type: string): void {
  // A copy: the Blob constructor takes only ArrayBuffer-backed views, not a SharedArrayBuffer's.
  downloadBlob(filename, new Blob([new Uint8Array(bytes)], { type }));
}

function downloadBlob(filename: string, blob: Blob): void {
  const url = URL.createObjectURL(blob);
  const a = Object.assign(document.createElement('a'), { href: url, download: filename });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
