/**
 * qemu-img -p prints "    (12.34/100%)\r" repeatedly on stdout. Chunks can split a record
 * anywhere, so keep the unfinished tail between chunks.
 */
const RECORD = /\((\d{1,3}(?:\.\d+)?)\/100%\)/;

export type ProgressCallback = (pct: number) => void;

/** Returns an onStdout handler that calls `onProgress` once per change of percentage. */
export function progressParser(onProgress: ProgressCallback): (chunk: string) => void {
  let tail = '';
  let last = -1;
  return (chunk: string) => {
    const parts = (tail + chunk).split(/[\r\n]/);
    tail = parts.pop() ?? '';
    if (tail.length > 256) tail = tail.slice(-256); // never grow on output that is not progress
    for (const part of parts) {
      const m = RECORD.exec(part);
      if (!m) continue;
      const pct = Math.min(100, Number(m[1]));
      if (pct !== last) {
        last = pct;
        onProgress(pct);
      }
    }
  };
}
