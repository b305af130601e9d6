/**
 * What a dataset is made of, as a flat list of items in a fixed order.
 *
 * The order is part of the output: shard k always holds items
 * [k·shardSize, (k+1)·shardSize) of this list, so a restarted run, a worker
 * on another machine and a retried job all agree on what a shard contains.
 * Listing therefore never depends on directory iteration order (names are
 * sorted) or on the machine.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { FileFormatError, InvalidArgumentError } from '@vqkit/core';
import { readIdxImages, readIdxLabels } from '@vqkit/image';

/** One thing to tokenize. */
export interface DatasetItem {
  /** Absolute path of the file holding the item. */
  source: string;
  /** Position of the item in an IDX stack; absent for one-item files. */
  index?: number;
  /** Class label, when the dataset has one. */
  label?: number;
}

export interface DatasetListing {
  /** What was listed, for the manifest (absolute paths). */
  data: string[];
  /** Kind of each listed path. */
  kind: ('folder' | 'idx' | 'list')[];
  items: DatasetItem[];
  /** SHA-256 (hex) of the item list: a changed dataset is not resumed into an old output. */
  fingerprint: string;
}

export const IMAGE_EXTENSIONS: readonly string[] = ['.png', '.jpg', '.jpeg', '.webp'];
export const AUDIO_EXTENSIONS: readonly string[] = ['.wav'];

export interface ListItemsOptions {
  /** File extensions a folder contributes (lower case, with dot). Default: images and WAV. */
  extensions?: readonly string[];
}

/** How an item is named in shard indexes and error reports: the path, or `file#index` for an IDX image. */
export function itemName(item: DatasetItem): string {
  return item.index === undefined ? item.source : `${item.source}#${item.index}`;
}

function isIdxFile(file: string): boolean {
  return /(idx\d-ubyte|\.idx\d?)(\.gz)?$/i.test(file);
}

function fingerprintOf(items: readonly DatasetItem[]): string {
  const hash = createHash('sha256');
  for (const item of items) hash.update(`${itemName(item)}\t${item.label ?? ''}\n`);
  return hash.digest('hex');
}

async function walk(dir: string, extensions: readonly string[], out: string[]): Promise<void> {
  const entries = await fsp.readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    if (entry.name.startsWith('.')) continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) await walk(full, extensions, out);
    else if (entry.isFile() && extensions.includes(path.extname(entry.name).toLowerCase())) out.push(full);
  }
}

/** The labels file that goes with an IDX images file (Fashion-MNIST naming), if it exists. */
function idxLabelsFor(imagesFile: string): string | undefined {
  const candidate = imagesFile.replace(/images-idx3-ubyte/, 'labels-idx1-ubyte');
  return candidate !== imagesFile && fs.existsSync(candidate) ? candidate : undefined;
}

async function listIdx(file: string): Promise<DatasetItem[]> {
  const images = await readIdxImages(file);
  const labelsFile = idxLabelsFor(file);
  const labels = labelsFile === undefined ? undefined : await readIdxLabels(labelsFile);
  if (labels !== undefined && labels.length !== images.count) {
    throw new FileFormatError(`has ${labels.length} labels but ${file} has ${images.count} images`, labelsFile);
  }
  const items: DatasetItem[] = new Array(images.count);
  for (let i = 0; i < images.count; i++) {
    items[i] = labels === undefined ? { source: file, index: i } : { source: file, index: i, label: labels[i]! };
  }
  return items;
}

/**
 * A list file: one item per line, `path` or `path<TAB>label`; relative paths
 * are relative to the list file; blank lines and lines starting with `#` are
 * ignored.
 */
async function listFile(file: string): Promise<DatasetItem[]> {
  const text = await fsp.readFile(file, 'utf8');
  const base = path.dirname(file);
  const items: DatasetItem[] = [];
  text.split(/\r?\n/).forEach((raw, lineIndex) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const [itemPath, labelText, ...rest] = line.split('\t');
    if (rest.length > 0 || itemPath === undefined || itemPath === '') {
      throw new FileFormatError(`line ${lineIndex + 1}: expected "path" or "path<TAB>label"`, file);
    }
    const source = path.resolve(base, itemPath);
    if (labelText === undefined) {
      items.push({ source });
      return;
    }
    const label = Number(labelText);
    if (!Number.isInteger(label) || label < 0) throw new FileFormatError(`line ${lineIndex + 1}: label ${JSON.stringify(labelText)} is not a non-negative integer`, file);
    items.push({ source, label });
  });
  return items;
}

/**
 * Lists a dataset: a folder (recursively, sorted, files with the given
 * extensions), an IDX / IDX.gz image file (labels read from the matching
 * `labels-idx1-ubyte` file when present), or a list file (.txt / .lst) — or
 * several of these, concatenated in the order given.
 */
export async function listItems(data: string | readonly string[], options: ListItemsOptions = {}): Promise<DatasetListing> {
  const paths = typeof data === 'string' ? [data] : data;
  if (paths.length === 0) throw new InvalidArgumentError('no dataset given');
  const parts = [];
  for (const one of paths) parts.push(await listOne(one, options));
  const items = parts.flatMap((p) => p.items);
  return { data: parts.map((p) => p.data), kind: parts.map((p) => p.kind), items, fingerprint: fingerprintOf(items) };
}

async function listOne(data: string, options: ListItemsOptions): Promise<{ data: string; kind: DatasetListing['kind'][number]; items: DatasetItem[] }> {
  const resolved = path.resolve(data);
  let stat: fs.Stats;
  try {
    stat = await fsp.stat(resolved);
  } catch {
    throw new InvalidArgumentError(`dataset ${data} does not exist; give a folder, an IDX(.gz) file or a list file (.txt: one path[<TAB>label] per line)`);
  }
  let kind: DatasetListing['kind'][number];
  let items: DatasetItem[];
  if (stat.isDirectory()) {
    kind = 'folder';
    const files: string[] = [];
    await walk(resolved, options.extensions ?? [...IMAGE_EXTENSIONS, ...AUDIO_EXTENSIONS], files);
    items = files.map((source) => ({ source }));
  } else if (isIdxFile(resolved)) {
    kind = 'idx';
    items = await listIdx(resolved);
  } else if (/\.(txt|lst|list)$/i.test(resolved)) {
    kind = 'list';
    items = await listFile(resolved);
  } else {
    throw new InvalidArgumentError(`cannot tell what ${data} is; give a folder, an IDX(.gz) file (…-idx3-ubyte[.gz]) or a list file (.txt/.lst)`);
  }
  if (items.length === 0) throw new InvalidArgumentError(`dataset ${data} has no items to tokenize`);
  return { data: resolved, kind, items };
}
