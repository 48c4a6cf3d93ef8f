/**
 * What a qemu-img verb opens, in the image directory `dir` (bare names resolve there, as backing
 * names do):
 * - a Layer `{ file, format }`: the file by name; qemu opens its whole backing chain by name too;
 * - `{ view: layers }`: a `json:` node description of exactly these layers (top first), the last
 *   one opened with `"backing": null`. Any qemu-img that opens an image by name opens its whole
 *   chain (at depth 128 that alone costs ~180 ms); a view opens only the files it names.
 */
import path from 'node:path';
import { assertBareName } from './bare-name.js';
import { assertImageFormat, type ImageFormat } from './formats.js';

/** One file of a view: a bare name in the image directory and its format. */
export interface Layer {
  file: string;
  format: ImageFormat;
}

export type ImageTarget = Layer | { view: readonly Layer[] };

/** A node description of `layers` (top first), the last one opened without its backing. */
export function nodeSpec(dir: string, layers: readonly Layer[]): Record<string, unknown> {
  const [first, ...rest] = layers;
  if (first === undefined) throw new Error('nodeSpec: no layers');
  assertBareName(first.file, 'image');
  assertImageFormat(first.format);
  const node: Record<string, unknown> = { driver: first.format, file: { driver: 'file', filename: path.join(dir, first.file) } };
  if (first.format === 'qcow2') node.backing = rest.length > 0 ? nodeSpec(dir, rest) : null;
  return node;
}

export function jsonName(dir: string, layers: readonly Layer[]): string {
  return `json:${JSON.stringify(nodeSpec(dir, layers))}`;
}

/** The image arguments of a verb: `-f <format> <path>` or the `json:` name of the view. */
export function targetArgs(dir: string, target: ImageTarget): string[] {
  if ('view' in target) return [jsonName(dir, target.view)];
  assertBareName(target.file, 'image');
  assertImageFormat(target.format);
  return ['-f', target.format, path.join(dir, target.file)];
}

/** The files the target names (each is checked before qemu opens it). */
export function targetFiles(target: ImageTarget): string[] {
  return 'view' in target ? target.view.map((l) => l.file) : [target.file];
}
