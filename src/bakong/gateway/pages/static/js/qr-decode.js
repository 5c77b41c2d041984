/**
 * qr-decode.js: the project's own QR Code reader, so the wallet page decodes a KHQR from the
 * camera or a photo with no network, no CDN and no third-party code (Chromium on Linux has no
 * BarcodeDetector). Plain ES2020 module, no dependencies.
 *
 * `decodeQr(imageData)` takes an ImageData-like `{data: RGBA bytes, width, height}` and returns
 * the text of the first QR Code model 2 symbol it reads, or null. It implements ISO/IEC 18004:
 *
 *   1. Luminance and adaptive binarisation: 8x8 blocks, each thresholded against the mean of
 *      the 5x5 blocks around it, so shadows and uneven light do not matter.
 *   2. Finder patterns: rows scanned for dark:light:dark:light:dark runs of 1:1:3:1:1, compared
 *      edge to edge (which blur does not change); each candidate is cross-checked vertically,
 *      horizontally and diagonally, and candidates close in position and size are merged. The
 *      best-supported ones are combined into triples, ranked by how close they come to an
 *      isosceles right triangle.
 *   3. Geometry: module size from the finders' own runs, the dimension from their distances
 *      (then one and two versions either side), the bottom-right alignment pattern (version 2
 *      and up) found by its runs and confirmed against its 5x5 template, then a perspective
 *      transform from module coordinates to pixels; each module is the majority of 5 pixels.
 *   4. Format information (BCH(15,5), both copies, nearest valid word) and version
 *      information for versions 7 to 40 (BCH(18,6), both copies).
 *   5. Unmasking, codeword extraction in the zig-zag order around the function patterns, and
 *      de-interleaving into the blocks of the error correction table (versions 1-40, L/M/Q/H).
 *   6. Reed-Solomon decoding over GF(256): syndromes, Berlekamp-Massey, Chien search, Forney,
 *      and the syndromes checked again after correcting.
 *   7. The bit stream: numeric, alphanumeric, byte (UTF-8 when valid, as KHQR writes Khmer
 *      names, else ISO-8859-1), ECI, kanji (Shift_JIS); structured append and FNC1 skipped.
 *
 * A mirrored symbol is read by transposing its modules. Each image is read up to four times:
 * as it is, inverted (light-on-dark codes), and both again after a 3x3 median filter (speckle).
 * Work is bounded for any input: the image size is capped, and so are the finder candidates,
 * the triples and the dimensions tried; every loop runs over pixels or modules, so noise or a
 * blank picture gives null in a few passes over the image.
 */

// ---------------------------------------------------------------------------------------------
// Limits and tables
// ---------------------------------------------------------------------------------------------

/** Largest image accepted (4096 x 4096); the scanner downscales camera frames and photos. */
const IMAGE_PIXELS_MAX = 4096 * 4096;
/** A version 1 symbol is 21 modules: anything smaller cannot hold one. */
const IMAGE_SIDE_MIN = 21;
/** Distinct finder candidates remembered in one pass (noise makes many, a code makes three). */
const FINDER_CANDIDATES_MAX = 200;
/** The best-supported candidates that are combined into triples (12 give 220 triples). */
const FINDER_CANDIDATES_RANKED = 12;
/** Triples decoded, best first, before giving up on a pass. */
const FINDER_TRIPLES_TRIED = 6;
/** Finder module sizes within one symbol differ by at most this factor (perspective). */
const FINDER_MODULE_RATIO_MAX = 1.8;
const BINARY_BLOCK_SIZE = 8;
/** A block whose darkest and lightest pixels differ by no more than this is flat. */
const BINARY_FLAT_RANGE_MAX = 24;
/** Distinct alignment candidates remembered in one search window. */
const ALIGNMENT_CANDIDATES_MAX = 100;
/** Modules of the 25 in an alignment pattern that must match for a candidate to count. */
const ALIGNMENT_TEMPLATE_SCORE_MIN = 22;
/** Format and version words are accepted at up to this Hamming distance (both BCH codes). */
const BCH_DISTANCE_MAX = 3;

/**
 * Error correction blocks per version (index 0 is version 1), for levels L, M, Q, H:
 * [EC codewords per block, blocks in group 1, data codewords each, blocks in group 2, data...].
 */
const EC_BLOCKS = [
  [[7, 1, 19], [10, 1, 16], [13, 1, 13], [17, 1, 9]],
  [[10, 1, 34], [16, 1, 28], [22, 1, 22], [28, 1, 16]],
  [[15, 1, 55], [26, 1, 44], [18, 2, 17], [22, 2, 13]],
  [[20, 1, 80], [18, 2, 32], [26, 2, 24], [16, 4, 9]],
  [[26, 1, 108], [24, 2, 43], [18, 2, 15, 2, 16], [22, 2, 11, 2, 12]],
  [[18, 2, 68], [16, 4, 27], [24, 4, 19], [28, 4, 15]],
  [[20, 2, 78], [18, 4, 31], [18, 2, 14, 4, 15], [26, 4, 13, 1, 14]],
  [[24, 2, 97], [22, 2, 38, 2, 39], [22, 4, 18, 2, 19], [26, 4, 14, 2, 15]],
  [[30, 2, 116], [22, 3, 36, 2, 37], [20, 4, 16, 4, 17], [24, 4, 12, 4, 13]],
  [[18, 2, 68, 2, 69], [26, 4, 43, 1, 44], [24, 6, 19, 2, 20], [28, 6, 15, 2, 16]],
  [[20, 4, 81], [30, 1, 50, 4, 51], [28, 4, 22, 4, 23], [24, 3, 12, 8, 13]],
  [[24, 2, 92, 2, 93], [22, 6, 36, 2, 37], [26, 4, 20, 6, 21], [28, 7, 14, 4, 15]],
  [[26, 4, 107], [22, 8, 37, 1, 38], [24, 8, 20, 4, 21], [22, 12, 11, 4, 12]],
  [[30, 3, 115, 1, 116], [24, 4, 40, 5, 41], [20, 11, 16, 5, 17], [24, 11, 12, 5, 13]],
  [[22, 5, 87, 1, 88], [24, 5, 41, 5, 42], [30, 5, 24, 7, 25], [24, 11, 12, 7, 13]],
  [[24, 5, 98, 1, 99], [28, 7, 45, 3, 46], [24, 15, 19, 2, 20], [30, 3, 15, 13, 16]],
  [[28, 1, 107, 5, 108], [28, 10, 46, 1, 47], [28, 1, 22, 15, 23], [28, 2, 14, 17, 15]],
  [[30, 5, 120, 1, 121], [26, 9, 43, 4, 44], [28, 17, 22, 1, 23], [28, 2, 14, 19, 15]],
  [[28, 3, 113, 4, 114], [26, 3, 44, 11, 45], [26, 17, 21, 4, 22], [26, 9, 13, 16, 14]],
  [[28, 3, 107, 5, 108], [26, 3, 41, 13, 42], [30, 15, 24, 5, 25], [28, 15, 15, 10, 16]],
  [[28, 4, 116, 4, 117], [26, 17, 42], [28, 17, 22, 6, 23], [30, 19, 16, 6, 17]],
  [[28, 2, 111, 7, 112], [28, 17, 46], [30, 7, 24, 16, 25], [24, 34, 13]],
  [[30, 4, 121, 5, 122], [28, 4, 47, 14, 48], [30, 11, 24, 14, 25], [30, 16, 15, 14, 16]],
  [[30, 6, 117, 4, 118], [28, 6, 45, 14, 46], [30, 11, 24, 16, 25], [30, 30, 16, 2, 17]],
  [[26, 8, 106, 4, 107], [28, 8, 47, 13, 48], [30, 7, 24, 22, 25], [30, 22, 15, 13, 16]],
  [[28, 10, 114, 2, 115], [28, 19, 46, 4, 47], [28, 28, 22, 6, 23], [30, 33, 16, 4, 17]],
  [[30, 8, 122, 4, 123], [28, 22, 45, 3, 46], [30, 8, 23, 26, 24], [30, 12, 15, 28, 16]],
  [[30, 3, 117, 10, 118], [28, 3, 45, 23, 46], [30, 4, 24, 31, 25], [30, 11, 15, 31, 16]],
  [[30, 7, 116, 7, 117], [28, 21, 45, 7, 46], [30, 1, 23, 37, 24], [30, 19, 15, 26, 16]],
  [[30, 5, 115, 10, 116], [28, 19, 47, 10, 48], [30, 15, 24, 25, 25], [30, 23, 15, 25, 16]],
  [[30, 13, 115, 3, 116], [28, 2, 46, 29, 47], [30, 42, 24, 1, 25], [30, 23, 15, 28, 16]],
  [[30, 17, 115], [28, 10, 46, 23, 47], [30, 10, 24, 35, 25], [30, 19, 15, 35, 16]],
  [[30, 17, 115, 1, 116], [28, 14, 46, 21, 47], [30, 29, 24, 19, 25], [30, 11, 15, 46, 16]],
  [[30, 13, 115, 6, 116], [28, 14, 46, 23, 47], [30, 44, 24, 7, 25], [30, 59, 16, 1, 17]],
  [[30, 12, 121, 7, 122], [28, 12, 47, 26, 48], [30, 39, 24, 14, 25], [30, 22, 15, 41, 16]],
  [[30, 6, 121, 14, 122], [28, 6, 47, 34, 48], [30, 46, 24, 10, 25], [30, 2, 15, 64, 16]],
  [[30, 17, 122, 4, 123], [28, 29, 46, 14, 47], [30, 49, 24, 10, 25], [30, 24, 15, 46, 16]],
  [[30, 4, 122, 18, 123], [28, 13, 46, 32, 47], [30, 48, 24, 14, 25], [30, 42, 15, 32, 16]],
  [[30, 20, 117, 4, 118], [28, 40, 47, 7, 48], [30, 43, 24, 22, 25], [30, 10, 15, 67, 16]],
  [[30, 19, 118, 6, 119], [28, 18, 47, 31, 48], [30, 34, 24, 34, 25], [30, 20, 15, 61, 16]],
];

/** The two error correction level bits of the format word, as an index into EC_BLOCKS rows. */
const LEVEL_INDEX_BY_FORMAT_BITS = [1, 0, 3, 2]; // 00 = M, 01 = L, 10 = H, 11 = Q

const ALPHANUMERIC_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";

/** ECI assignment numbers to the labels TextDecoder knows (ISO/IEC 18004 Table 4, AIM ECI). */
const ECI_CHARSETS = new Map([
  [0, "cp437"], [1, "iso-8859-1"], [2, "cp437"], [3, "iso-8859-1"], [4, "iso-8859-2"],
  [5, "iso-8859-3"], [6, "iso-8859-4"], [7, "iso-8859-5"], [8, "iso-8859-6"],
  [9, "iso-8859-7"], [10, "iso-8859-8"], [11, "iso-8859-9"], [12, "iso-8859-10"],
  [13, "iso-8859-11"], [15, "iso-8859-13"], [16, "iso-8859-14"], [17, "iso-8859-15"],
  [18, "iso-8859-16"], [20, "shift_jis"], [21, "windows-1250"], [22, "windows-1251"],
  [23, "windows-1252"], [24, "windows-1256"], [25, "utf-16be"], [26, "utf-8"],
  [27, "us-ascii"], [28, "big5"], [29, "gb18030"], [30, "euc-kr"],
]);

/** Thrown inside the reader when a candidate symbol cannot be read; never escapes decodeQr. */
class NotReadable extends Error {}

function notReadable() {
  return new NotReadable("not readable");
}

// ---------------------------------------------------------------------------------------------
// 1. Luminance and adaptive binarisation
// ---------------------------------------------------------------------------------------------

/** Grey level per pixel (Rec. 601 weights); transparent pixels count as white paper. */
function toLuminance(rgba, width, height) {
  const luminance = new Uint8Array(width * height);
  for (let index = 0, offset = 0; index < luminance.length; index++, offset += 4) {
    const grey = (rgba[offset] * 77 + rgba[offset + 1] * 150 + rgba[offset + 2] * 29) >> 8;
    const alpha = rgba[offset + 3];
    luminance[index] = alpha === 255 ? grey : (grey * alpha + 255 * (255 - alpha)) / 255;
  }
  return luminance;
}

/** The black point of each 8x8 block: its mean, or a guess from its neighbours when flat. */
function blockBlackPoints(luminance, width, height, blocksX, blocksY) {
  const blackPoints = new Uint8Array(blocksX * blocksY);
  for (let blockY = 0; blockY < blocksY; blockY++) {
    const top = Math.min(blockY * BINARY_BLOCK_SIZE, height - BINARY_BLOCK_SIZE);
    for (let blockX = 0; blockX < blocksX; blockX++) {
      const left = Math.min(blockX * BINARY_BLOCK_SIZE, width - BINARY_BLOCK_SIZE);
      let sum = 0;
      let darkest = 255;
      let lightest = 0;
      for (let y = top; y < top + BINARY_BLOCK_SIZE; y++) {
        const rowEnd = y * width + left + BINARY_BLOCK_SIZE;
        for (let offset = y * width + left; offset < rowEnd; offset++) {
          const value = luminance[offset];
          sum += value;
          if (value < darkest) darkest = value;
          if (value > lightest) lightest = value;
        }
      }
      let blackPoint = sum >> 6;
      if (lightest - darkest <= BINARY_FLAT_RANGE_MAX) {
        // A flat block is taken as light, unless its neighbours say it lies inside dark area.
        blackPoint = darkest >> 1;
        if (blockY > 0 && blockX > 0) {
          const above = blackPoints[(blockY - 1) * blocksX + blockX];
          const before = blackPoints[blockY * blocksX + blockX - 1];
          const aboveBefore = blackPoints[(blockY - 1) * blocksX + blockX - 1];
          const neighbours = (above + 2 * before + aboveBefore) >> 2;
          if (darkest < neighbours) blackPoint = neighbours;
        }
      }
      blackPoints[blockY * blocksX + blockX] = blackPoint;
    }
  }
  return blackPoints;
}

/** 1 for dark, 0 for light: each block against the mean black point of the 5x5 around it. */
function binarise(luminance, width, height) {
  const blocksX = Math.ceil(width / BINARY_BLOCK_SIZE);
  const blocksY = Math.ceil(height / BINARY_BLOCK_SIZE);
  const blackPoints = blockBlackPoints(luminance, width, height, blocksX, blocksY);
  const bits = new Uint8Array(width * height);
  for (let blockY = 0; blockY < blocksY; blockY++) {
    const top = Math.min(blockY * BINARY_BLOCK_SIZE, height - BINARY_BLOCK_SIZE);
    for (let blockX = 0; blockX < blocksX; blockX++) {
      const left = Math.min(blockX * BINARY_BLOCK_SIZE, width - BINARY_BLOCK_SIZE);
      let sum = 0;
      for (let dy = -2; dy <= 2; dy++) {
        const row = Math.min(Math.max(blockY + dy, 0), blocksY - 1) * blocksX;
        for (let dx = -2; dx <= 2; dx++) {
          sum += blackPoints[row + Math.min(Math.max(blockX + dx, 0), blocksX - 1)];
        }
      }
      const threshold = sum / 25;
      for (let y = top; y < top + BINARY_BLOCK_SIZE; y++) {
        const rowEnd = y * width + left + BINARY_BLOCK_SIZE;
        for (let offset = y * width + left; offset < rowEnd; offset++) {
          bits[offset] = luminance[offset] <= threshold ? 1 : 0;
        }
      }
    }
  }
  return { width, height, bits };
}

/**
 * The median of each pixel's 3x3 neighbourhood: removes the speckle that breaks finder runs.
 * The 19 compare-exchanges are the classic median-of-9 network (Paeth, Graphics Gems).
 */
function medianFiltered(luminance, width, height) {
  const result = new Uint8Array(luminance.length);
  for (let y = 0; y < height; y++) {
    const above = Math.max(y - 1, 0) * width;
    const row = y * width;
    const below = Math.min(y + 1, height - 1) * width;
    for (let x = 0; x < width; x++) {
      const left = Math.max(x - 1, 0);
      const right = Math.min(x + 1, width - 1);
      let p0 = luminance[above + left];
      let p1 = luminance[above + x];
      let p2 = luminance[above + right];
      let p3 = luminance[row + left];
      let p4 = luminance[row + x];
      let p5 = luminance[row + right];
      let p6 = luminance[below + left];
      let p7 = luminance[below + x];
      let p8 = luminance[below + right];
      let low;
      low = Math.min(p1, p2); p2 = Math.max(p1, p2); p1 = low;
      low = Math.min(p4, p5); p5 = Math.max(p4, p5); p4 = low;
      low = Math.min(p7, p8); p8 = Math.max(p7, p8); p7 = low;
      low = Math.min(p0, p1); p1 = Math.max(p0, p1); p0 = low;
      low = Math.min(p3, p4); p4 = Math.max(p3, p4); p3 = low;
      low = Math.min(p6, p7); p7 = Math.max(p6, p7); p6 = low;
      low = Math.min(p1, p2); p2 = Math.max(p1, p2); p1 = low;
      low = Math.min(p4, p5); p5 = Math.max(p4, p5); p4 = low;
      low = Math.min(p7, p8); p8 = Math.max(p7, p8); p7 = low;
      low = Math.min(p0, p3); p3 = Math.max(p0, p3); p0 = low;
      low = Math.min(p5, p8); p8 = Math.max(p5, p8); p5 = low;
      low = Math.min(p4, p7); p7 = Math.max(p4, p7); p4 = low;
      low = Math.min(p3, p6); p6 = Math.max(p3, p6); p3 = low;
      low = Math.min(p1, p4); p4 = Math.max(p1, p4); p1 = low;
      low = Math.min(p2, p5); p5 = Math.max(p2, p5); p2 = low;
      low = Math.min(p4, p7); p7 = Math.max(p4, p7); p4 = low;
      low = Math.min(p4, p2); p2 = Math.max(p4, p2); p4 = low;
      low = Math.min(p6, p4); p4 = Math.max(p6, p4); p6 = low;
      low = Math.min(p4, p2); p2 = Math.max(p4, p2); p4 = low;
      result[row + x] = p4;
    }
  }
  return result;
}

function inverted(image) {
  const bits = new Uint8Array(image.bits.length);
  for (let index = 0; index < bits.length; index++) bits[index] = image.bits[index] ^ 1;
  return { width: image.width, height: image.height, bits };
}

function isDark(image, x, y) {
  return image.bits[y * image.width + x] === 1;
}

// ---------------------------------------------------------------------------------------------
// 2. Finder patterns
// ---------------------------------------------------------------------------------------------

/**
 * Do five runs (dark, light, dark, light, dark) measure 1:1:3:1:1? Compared edge to edge (a
 * run plus the next: 2, 4, 4, 2 modules), as blur or ink spread that widens dark runs narrows
 * light ones by as much and leaves those sums unchanged. `looser` for the diagonal check.
 */
function runsLookLikeFinder(runs, looser = false) {
  const [dark1, light1, centre, light2, dark2] = runs;
  if (dark1 === 0 || light1 === 0 || centre === 0 || light2 === 0 || dark2 === 0) return false;
  const total = dark1 + light1 + centre + light2 + dark2;
  if (total < 7) return false;
  const moduleSize = total / 7;
  const tolerance = moduleSize * (looser ? 1.1 : 0.75);
  return (
    Math.abs(dark1 + light1 - 2 * moduleSize) < tolerance &&
    Math.abs(light1 + centre - 4 * moduleSize) < tolerance &&
    Math.abs(centre + light2 - 4 * moduleSize) < tolerance &&
    Math.abs(light2 + dark2 - 2 * moduleSize) < tolerance &&
    Math.abs(centre - 3 * moduleSize) < 1.5 * moduleSize &&
    light1 < 2 * moduleSize &&
    light2 < 2 * moduleSize
  );
}

/**
 * Measures the finder's five runs through (x, y) along the direction (dx, dy) and returns the
 * offset of their centre from (x, y) in steps, or NaN. A diagonal check (no expected total)
 * allows a looser ratio.
 */
function crossCheckFinder(image, x, y, dx, dy, maxRun, expectedTotal) {
  const runs = [0, 0, 0, 0, 0];
  const inside = (step) => {
    const px = x + step * dx;
    const py = y + step * dy;
    return px >= 0 && py >= 0 && px < image.width && py < image.height;
  };
  const dark = (step) => isDark(image, x + step * dx, y + step * dy);
  let step = 0;
  while (inside(-step) && dark(-step)) { runs[2]++; step++; }
  if (!inside(-step)) return NaN;
  while (inside(-step) && !dark(-step) && runs[1] <= maxRun) { runs[1]++; step++; }
  if (!inside(-step) || runs[1] > maxRun) return NaN;
  while (inside(-step) && dark(-step) && runs[0] <= maxRun) { runs[0]++; step++; }
  if (runs[0] > maxRun) return NaN;
  step = 1;
  while (inside(step) && dark(step)) { runs[2]++; step++; }
  if (!inside(step)) return NaN;
  while (inside(step) && !dark(step) && runs[3] < maxRun) { runs[3]++; step++; }
  if (!inside(step) || runs[3] >= maxRun) return NaN;
  while (inside(step) && dark(step) && runs[4] < maxRun) { runs[4]++; step++; }
  if (runs[4] >= maxRun) return NaN;
  const total = runs[0] + runs[1] + runs[2] + runs[3] + runs[4];
  if (expectedTotal > 0 && 5 * Math.abs(total - expectedTotal) >= 2 * expectedTotal) return NaN;
  if (!runsLookLikeFinder(runs, expectedTotal === 0)) return NaN;
  return step - runs[4] - runs[3] - runs[2] / 2;
}

/** Confirms a row hit ending at (endX, y) in three directions and records or merges it. */
function recordFinderCandidate(image, candidates, runs, y, endX) {
  const total = runs[0] + runs[1] + runs[2] + runs[3] + runs[4];
  const rowCentreX = Math.floor(endX - runs[4] - runs[3] - runs[2] / 2);
  const centreY = y + crossCheckFinder(image, rowCentreX, y, 0, 1, runs[2], total);
  if (Number.isNaN(centreY)) return;
  const centreX = rowCentreX + crossCheckFinder(
    image, rowCentreX, Math.floor(centreY), 1, 0, runs[2], total,
  );
  if (Number.isNaN(centreX)) return;
  const diagonal = crossCheckFinder(
    image, Math.floor(centreX), Math.floor(centreY), 1, 1, Infinity, 0,
  );
  if (Number.isNaN(diagonal)) return;
  const moduleSize = total / 7;
  for (const candidate of candidates) {
    if (isSameCandidate(candidate, centreX, centreY, moduleSize)) {
      const count = candidate.count;
      candidate.x = (count * candidate.x + centreX) / (count + 1);
      candidate.y = (count * candidate.y + centreY) / (count + 1);
      candidate.moduleSize = (count * candidate.moduleSize + moduleSize) / (count + 1);
      candidate.count = count + 1;
      return;
    }
  }
  if (candidates.length < FINDER_CANDIDATES_MAX) {
    candidates.push({ x: centreX, y: centreY, moduleSize, count: 1 });
  }
}

function isSameCandidate(candidate, x, y, moduleSize) {
  if (Math.abs(y - candidate.y) > moduleSize || Math.abs(x - candidate.x) > moduleSize) {
    return false;
  }
  const sizeDifference = Math.abs(moduleSize - candidate.moduleSize);
  return sizeDifference <= 1 || sizeDifference <= candidate.moduleSize;
}

/** Every finder pattern candidate, scanning every second or third row. */
function findFinderCandidates(image) {
  const { width, height, bits } = image;
  const candidates = [];
  const rowStep = height > 600 ? 3 : 2;
  const runs = [0, 0, 0, 0, 0];
  for (let y = rowStep - 1; y < height; y += rowStep) {
    runs.fill(0);
    let state = 0; // which run is being counted; even runs are dark
    for (let x = 0, offset = y * width; x < width; x++, offset++) {
      if (bits[offset] === 1) {
        if (state & 1) state++;
        runs[state]++;
      } else if (state & 1) {
        runs[state]++;
      } else if (state === 4) {
        if (runsLookLikeFinder(runs)) recordFinderCandidate(image, candidates, runs, y, x);
        // The last three runs may start the next pattern.
        runs[0] = runs[2];
        runs[1] = runs[3];
        runs[2] = runs[4];
        runs[3] = 1;
        runs[4] = 0;
        state = 3;
      } else {
        runs[++state]++;
      }
    }
    if (state === 4 && runsLookLikeFinder(runs)) {
      recordFinderCandidate(image, candidates, runs, y, width);
    }
  }
  return candidates;
}

function squaredDistance(a, b) {
  return (a.x - b.x) ** 2 + (a.y - b.y) ** 2;
}

/**
 * Triples of candidates, best first: alike module sizes, legs at least 10 modules, and the
 * shape nearest to an isosceles right triangle (a + b = c and a = b in squared lengths).
 */
function rankFinderTriples(candidates) {
  const pool = candidates
    .slice()
    .sort((a, b) => b.count - a.count)
    .slice(0, FINDER_CANDIDATES_RANKED);
  const triples = [];
  for (let i = 0; i < pool.length; i++) {
    for (let j = i + 1; j < pool.length; j++) {
      for (let k = j + 1; k < pool.length; k++) {
        const triple = [pool[i], pool[j], pool[k]];
        const sizes = triple.map((candidate) => candidate.moduleSize);
        const smallest = Math.min(...sizes);
        if (Math.max(...sizes) > smallest * FINDER_MODULE_RATIO_MAX) continue;
        const sides = [
          squaredDistance(pool[i], pool[j]),
          squaredDistance(pool[j], pool[k]),
          squaredDistance(pool[i], pool[k]),
        ].sort((a, b) => a - b);
        if (sides[0] < (10 * smallest) ** 2) continue;
        const distortion =
          (Math.abs(sides[2] - 2 * sides[1]) + Math.abs(sides[2] - 2 * sides[0])) / sides[2];
        triples.push({ triple, distortion });
      }
    }
  }
  triples.sort((a, b) => a.distortion - b.distortion);
  return triples.slice(0, FINDER_TRIPLES_TRIED).map((entry) => entry.triple);
}

/** [bottomLeft, topLeft, topRight]: top-left faces the longest side; the rest by orientation. */
function orderFinderTriple([first, second, third]) {
  const firstSecond = squaredDistance(first, second);
  const secondThird = squaredDistance(second, third);
  const firstThird = squaredDistance(first, third);
  let topLeft;
  let a;
  let c;
  if (secondThird >= firstSecond && secondThird >= firstThird) {
    [topLeft, a, c] = [first, second, third];
  } else if (firstThird >= secondThird && firstThird >= firstSecond) {
    [topLeft, a, c] = [second, first, third];
  } else {
    [topLeft, a, c] = [third, first, second];
  }
  const crossZ = (c.x - topLeft.x) * (a.y - topLeft.y) - (c.y - topLeft.y) * (a.x - topLeft.x);
  if (crossZ < 0) [a, c] = [c, a];
  return [a, topLeft, c];
}

// ---------------------------------------------------------------------------------------------
// 3. Geometry: module size, dimension, alignment pattern, perspective sampling
// ---------------------------------------------------------------------------------------------

/**
 * Length in pixels of dark, light, dark runs from (fromX, fromY) toward (toX, toY), walked
 * with Bresenham's line; NaN when the line ends first.
 */
function darkLightDarkRun(image, fromX, fromY, toX, toY) {
  const steep = Math.abs(toY - fromY) > Math.abs(toX - fromX);
  if (steep) [fromX, fromY, toX, toY] = [fromY, fromX, toY, toX];
  const dx = Math.abs(toX - fromX);
  const dy = Math.abs(toY - fromY);
  let error = -dx >> 1;
  const xStep = fromX < toX ? 1 : -1;
  const yStep = fromY < toY ? 1 : -1;
  let state = 0; // 0: first dark run, 1: light run, 2: second dark run
  const xLimit = toX + xStep;
  for (let x = fromX, y = fromY; x !== xLimit; x += xStep) {
    const dark = steep ? isDark(image, y, x) : isDark(image, x, y);
    if ((state === 1) === dark) {
      if (state === 2) return Math.hypot(x - fromX, y - fromY);
      state++;
    }
    error += dy;
    if (error > 0) {
      if (y === toY) break;
      y += yStep;
      error -= dx;
    }
  }
  if (state === 2) return Math.hypot(toX + xStep - fromX, toY - fromY);
  return NaN;
}

/** The finder's full width (7 modules) along the line to `to`, measured both ways from `from`. */
function finderWidthAlong(image, from, to) {
  const fromX = Math.floor(from.x);
  const fromY = Math.floor(from.y);
  const toX = Math.floor(to.x);
  const toY = Math.floor(to.y);
  let result = darkLightDarkRun(image, fromX, fromY, toX, toY);
  let scale = 1;
  let otherX = fromX - (toX - fromX);
  if (otherX < 0) {
    scale = fromX / (fromX - otherX);
    otherX = 0;
  } else if (otherX >= image.width) {
    scale = (image.width - 1 - fromX) / (otherX - fromX);
    otherX = image.width - 1;
  }
  let otherY = Math.floor(fromY - (toY - fromY) * scale);
  scale = 1;
  if (otherY < 0) {
    scale = fromY / (fromY - otherY);
    otherY = 0;
  } else if (otherY >= image.height) {
    scale = (image.height - 1 - fromY) / (otherY - fromY);
    otherY = image.height - 1;
  }
  otherX = Math.floor(fromX + (otherX - fromX) * scale);
  result += darkLightDarkRun(image, fromX, fromY, otherX, otherY);
  return result - 1; // the start pixel was counted twice
}

function moduleSizeBetween(image, a, b) {
  const fromA = finderWidthAlong(image, a, b);
  const fromB = finderWidthAlong(image, b, a);
  if (Number.isNaN(fromA)) return fromB / 7;
  if (Number.isNaN(fromB)) return fromA / 7;
  return (fromA + fromB) / 14;
}

/** Modules across the symbol, from the finder distances, snapped to 17 + 4 * version. */
function estimateDimension(topLeft, topRight, bottomLeft, moduleSize) {
  const across = Math.round(Math.sqrt(squaredDistance(topLeft, topRight)) / moduleSize);
  const down = Math.round(Math.sqrt(squaredDistance(topLeft, bottomLeft)) / moduleSize);
  let dimension = ((across + down) >> 1) + 7;
  switch (dimension & 3) {
    case 0: dimension += 1; break;
    case 2: dimension -= 1; break;
    case 3: dimension -= 2; break;
    default: break;
  }
  return dimension;
}

/**
 * Do three runs (light, dark, light) look like the middle of an alignment pattern, one module
 * each? Compared edge to edge, like the finder runs, so blur does not matter.
 */
function runsLookLikeAlignment(runs, moduleSize) {
  const [light1, centre, light2] = runs;
  if (light1 === 0 || centre === 0 || light2 === 0) return false;
  const tolerance = moduleSize * 0.75;
  return (
    Math.abs(light1 + centre - 2 * moduleSize) < tolerance &&
    Math.abs(centre + light2 - 2 * moduleSize) < tolerance &&
    centre < 2 * moduleSize
  );
}

/**
 * Measures light, dark, light runs through (x, y) along (dx, dy), the dark one containing
 * (x, y); returns the offset of the dark run's centre, or NaN.
 */
function crossCheckAlignment(image, x, y, dx, dy, moduleSize) {
  const runs = [0, 0, 0];
  const maxRun = Math.ceil(3 * moduleSize);
  const inside = (step) => {
    const px = x + step * dx;
    const py = y + step * dy;
    return px >= 0 && py >= 0 && px < image.width && py < image.height;
  };
  const dark = (step) => isDark(image, x + step * dx, y + step * dy);
  let step = 0;
  while (inside(-step) && dark(-step) && runs[1] <= maxRun) { runs[1]++; step++; }
  while (inside(-step) && !dark(-step) && runs[0] <= maxRun) { runs[0]++; step++; }
  if (!inside(-step) || runs[0] > maxRun) return NaN;
  step = 1;
  while (inside(step) && dark(step) && runs[1] <= maxRun) { runs[1]++; step++; }
  while (inside(step) && !dark(step) && runs[2] <= maxRun) { runs[2]++; step++; }
  if (!inside(step) || runs[2] > maxRun) return NaN;
  return runsLookLikeAlignment(runs, moduleSize) ? step - runs[2] - runs[1] / 2 : NaN;
}

/**
 * Alignment pattern centres in the window, each confirmed across the row, down the column and
 * across again; repeated sightings merged.
 */
function findAlignmentCandidates(image, left, top, right, bottom, moduleSize) {
  const found = [];
  for (let y = top; y <= bottom; y++) {
    const runs = [0, 0, 0];
    let state = 0; // 0: leading light, 1: dark, 2: trailing light
    for (let x = left; x <= right + 1; x++) {
      const dark = x <= right && isDark(image, x, y);
      if (state === 0) {
        if (dark) state = 1; else { runs[0]++; continue; }
      }
      if (state === 1) {
        if (dark) { runs[1]++; continue; }
        state = 2;
      }
      if (!dark && x <= right) { runs[2]++; continue; }
      if (runsLookLikeAlignment(runs, moduleSize)) {
        recordAlignment(image, found, Math.floor(x - runs[2] - runs[1] / 2), y, moduleSize);
      }
      [runs[0], runs[1], runs[2]] = [runs[2], 1, 0];
      state = 1;
    }
  }
  return found;
}

function recordAlignment(image, found, x, y, moduleSize) {
  const centreY = y + crossCheckAlignment(image, x, y, 0, 1, moduleSize);
  if (Number.isNaN(centreY)) return;
  const centreX = x + crossCheckAlignment(image, x, Math.floor(centreY), 1, 0, moduleSize);
  if (Number.isNaN(centreX)) return;
  for (const candidate of found) {
    const near = Math.abs(candidate.x - centreX) <= moduleSize &&
      Math.abs(candidate.y - centreY) <= moduleSize;
    if (near) {
      candidate.count++;
      return;
    }
  }
  if (found.length < ALIGNMENT_CANDIDATES_MAX) found.push({ x: centreX, y: centreY, count: 1 });
}

/**
 * How many of the 25 modules around `centre` match an alignment pattern (dark ring, light
 * ring, dark centre), stepping along the symbol's own axes so rotation does not matter. An
 * isolated dark data module passes the run checks; it rarely has the dark ring as well.
 */
function alignmentTemplateScore(image, centre, acrossStep, downStep) {
  let score = 0;
  for (let row = -2; row <= 2; row++) {
    for (let column = -2; column <= 2; column++) {
      const x = Math.floor(centre.x + column * acrossStep.x + row * downStep.x);
      const y = Math.floor(centre.y + column * acrossStep.y + row * downStep.y);
      if (x < 0 || y < 0 || x >= image.width || y >= image.height) continue;
      const ring = Math.max(Math.abs(row), Math.abs(column));
      if (isDark(image, x, y) === (ring !== 1)) score++;
    }
  }
  return score;
}

/**
 * The bottom-right alignment pattern: of the candidates that look like the whole 5x5 pattern,
 * the best match nearest where the finders put it, searched in windows of 4, 8 and 16 modules
 * around that point; null when there is none.
 */
function findAlignment(image, topLeft, topRight, bottomLeft, moduleSize, dimension) {
  const modulesBetweenFinders = dimension - 7;
  const acrossStep = {
    x: (topRight.x - topLeft.x) / modulesBetweenFinders,
    y: (topRight.y - topLeft.y) / modulesBetweenFinders,
  };
  const downStep = {
    x: (bottomLeft.x - topLeft.x) / modulesBetweenFinders,
    y: (bottomLeft.y - topLeft.y) / modulesBetweenFinders,
  };
  const towardCorner = modulesBetweenFinders - 3;
  const expectedX = topLeft.x + towardCorner * (acrossStep.x + downStep.x);
  const expectedY = topLeft.y + towardCorner * (acrossStep.y + downStep.y);
  const distance = (point) => (point.x - expectedX) ** 2 + (point.y - expectedY) ** 2;
  for (let allowance = 4; allowance <= 16; allowance <<= 1) {
    const reach = allowance * moduleSize;
    const left = Math.max(0, Math.floor(expectedX - reach));
    const right = Math.min(image.width - 1, Math.ceil(expectedX + reach));
    const top = Math.max(0, Math.floor(expectedY - reach));
    const bottom = Math.min(image.height - 1, Math.ceil(expectedY + reach));
    if (right - left < moduleSize * 3 || bottom - top < moduleSize * 3) continue;
    let best = null;
    for (const candidate of findAlignmentCandidates(image, left, top, right, bottom, moduleSize)) {
      candidate.score = alignmentTemplateScore(image, candidate, acrossStep, downStep);
      if (candidate.score < ALIGNMENT_TEMPLATE_SCORE_MIN) continue;
      if (best === null || candidate.score > best.score ||
        (candidate.score === best.score && distance(candidate) < distance(best))) {
        best = candidate;
      }
    }
    if (best !== null) return best;
  }
  return null;
}

/** The projective map taking the unit square's corners (0,0) (1,0) (1,1) (0,1) to p0..p3. */
function squareToQuadrilateral(x0, y0, x1, y1, x2, y2, x3, y3) {
  const dx3 = x0 - x1 + x2 - x3;
  const dy3 = y0 - y1 + y2 - y3;
  if (dx3 === 0 && dy3 === 0) {
    return [x1 - x0, x2 - x1, x0, y1 - y0, y2 - y1, y0, 0, 0, 1];
  }
  const dx1 = x1 - x2;
  const dx2 = x3 - x2;
  const dy1 = y1 - y2;
  const dy2 = y3 - y2;
  const denominator = dx1 * dy2 - dx2 * dy1;
  const a13 = (dx3 * dy2 - dx2 * dy3) / denominator;
  const a23 = (dx1 * dy3 - dx3 * dy1) / denominator;
  return [
    x1 - x0 + a13 * x1, x3 - x0 + a23 * x3, x0,
    y1 - y0 + a13 * y1, y3 - y0 + a23 * y3, y0,
    a13, a23, 1,
  ];
}

function adjoint([a11, a21, a31, a12, a22, a32, a13, a23, a33]) {
  return [
    a22 * a33 - a23 * a32, a23 * a31 - a21 * a33, a21 * a32 - a22 * a31,
    a13 * a32 - a12 * a33, a11 * a33 - a13 * a31, a12 * a31 - a11 * a32,
    a12 * a23 - a13 * a22, a13 * a21 - a11 * a23, a11 * a22 - a12 * a21,
  ];
}

function composeTransforms(outer, inner) {
  const [a11, a21, a31, a12, a22, a32, a13, a23, a33] = outer;
  const [b11, b21, b31, b12, b22, b32, b13, b23, b33] = inner;
  return [
    a11 * b11 + a21 * b12 + a31 * b13, a11 * b21 + a21 * b22 + a31 * b23,
    a11 * b31 + a21 * b32 + a31 * b33, a12 * b11 + a22 * b12 + a32 * b13,
    a12 * b21 + a22 * b22 + a32 * b23, a12 * b31 + a22 * b32 + a32 * b33,
    a13 * b11 + a23 * b12 + a33 * b13, a13 * b21 + a23 * b22 + a33 * b23,
    a13 * b31 + a23 * b32 + a33 * b33,
  ];
}

/** The map from module coordinates to pixels fixed by the finders and the bottom-right point. */
function moduleToPixelTransform(topLeft, topRight, bottomLeft, alignment, dimension) {
  const far = dimension - 3.5;
  let bottomRight;
  let bottomRightModule;
  if (alignment) {
    bottomRight = alignment;
    bottomRightModule = far - 3;
  } else {
    bottomRight = {
      x: topRight.x - topLeft.x + bottomLeft.x,
      y: topRight.y - topLeft.y + bottomLeft.y,
    };
    bottomRightModule = far;
  }
  const moduleSquare = adjoint(
    squareToQuadrilateral(3.5, 3.5, far, 3.5, bottomRightModule, bottomRightModule, 3.5, far),
  );
  const pixelSquare = squareToQuadrilateral(
    topLeft.x, topLeft.y, topRight.x, topRight.y,
    bottomRight.x, bottomRight.y, bottomLeft.x, bottomLeft.y,
  );
  return composeTransforms(pixelSquare, moduleSquare);
}

/**
 * The modules of a `dimension`-square symbol: each the majority of five pixels, its centre's
 * and four a fifth of a module from it, so one stray pixel does not flip a module.
 */
function sampleModules(image, transform, dimension) {
  const [a11, a21, a31, a12, a22, a32, a13, a23, a33] = transform;
  const modules = new Uint8Array(dimension * dimension);
  const lastX = image.width - 1;
  const lastY = image.height - 1;
  let outside = 0;
  const darkAt = (u, v) => {
    const denominator = a13 * u + a23 * v + a33;
    const x = Math.floor((a11 * u + a21 * v + a31) / denominator);
    const y = Math.floor((a12 * u + a22 * v + a32) / denominator);
    if (!(x >= 0 && y >= 0 && x <= lastX && y <= lastY)) {
      outside++;
      if (!(x >= -2 && y >= -2 && x <= lastX + 2 && y <= lastY + 2)) throw notReadable();
      return isDark(image, Math.min(Math.max(x, 0), lastX), Math.min(Math.max(y, 0), lastY));
    }
    return isDark(image, x, y);
  };
  for (let row = 0; row < dimension; row++) {
    const v = row + 0.5;
    for (let column = 0; column < dimension; column++) {
      const u = column + 0.5;
      const votes = darkAt(u, v) + darkAt(u - 0.2, v) + darkAt(u + 0.2, v) +
        darkAt(u, v - 0.2) + darkAt(u, v + 0.2);
      modules[row * dimension + column] = votes >= 3 ? 1 : 0;
    }
  }
  if (outside > 20 * dimension) throw notReadable();
  return modules;
}

function transposed(modules, dimension) {
  const result = new Uint8Array(modules.length);
  for (let row = 0; row < dimension; row++) {
    for (let column = 0; column < dimension; column++) {
      result[column * dimension + row] = modules[row * dimension + column];
    }
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// 4. Format and version information
// ---------------------------------------------------------------------------------------------

/** The remainder of `value` divided by `generator` over GF(2) (both as bit strings). */
function bchRemainder(value, generator) {
  const generatorBits = 32 - Math.clz32(generator);
  while (value !== 0 && 32 - Math.clz32(value) >= generatorBits) {
    value ^= generator << (32 - Math.clz32(value) - generatorBits);
  }
  return value;
}

/** All 32 format words (5 data bits + BCH(15,5), masked with 101010000010010). */
const FORMAT_WORDS = Array.from({ length: 32 }, (_, data) =>
  ((data << 10) | bchRemainder(data << 10, 0x537)) ^ 0x5412);

/** Version words for versions 7 to 40 (6 data bits + BCH(18,6)), index 0 is version 7. */
const VERSION_WORDS = Array.from({ length: 34 }, (_, index) =>
  ((index + 7) << 12) | bchRemainder((index + 7) << 12, 0x1f25));

function bitCount(value) {
  let count = 0;
  for (; value !== 0; value &= value - 1) count++;
  return count;
}

/** The index of the word nearest to any of `readings`, if within BCH_DISTANCE_MAX. */
function nearestWord(words, readings) {
  let best = -1;
  let bestDistance = BCH_DISTANCE_MAX + 1;
  words.forEach((word, index) => {
    for (const reading of readings) {
      const distance = bitCount(word ^ reading);
      if (distance < bestDistance) {
        best = index;
        bestDistance = distance;
      }
    }
  });
  return best;
}

function moduleAt(modules, dimension, x, y) {
  return modules[y * dimension + x];
}

/** {levelIndex, mask} from the two copies of the format word. */
function readFormat(modules, dimension) {
  const bit = (x, y) => moduleAt(modules, dimension, x, y);
  let nearFinder = 0;
  for (let x = 0; x < 6; x++) nearFinder = (nearFinder << 1) | bit(x, 8);
  nearFinder = (nearFinder << 1) | bit(7, 8);
  nearFinder = (nearFinder << 1) | bit(8, 8);
  nearFinder = (nearFinder << 1) | bit(8, 7);
  for (let y = 5; y >= 0; y--) nearFinder = (nearFinder << 1) | bit(8, y);
  let split = 0;
  for (let y = dimension - 1; y >= dimension - 7; y--) split = (split << 1) | bit(8, y);
  for (let x = dimension - 8; x < dimension; x++) split = (split << 1) | bit(x, 8);
  const data = nearestWord(FORMAT_WORDS, [nearFinder, split]);
  if (data < 0) throw notReadable();
  return { levelIndex: LEVEL_INDEX_BY_FORMAT_BITS[data >> 3], mask: data & 7 };
}

/** The version, from the dimension up to 6 and from either version block from 7. */
function readVersion(modules, dimension) {
  const fromDimension = (dimension - 17) / 4;
  if (fromDimension <= 6) return fromDimension;
  const bit = (x, y) => moduleAt(modules, dimension, x, y);
  let topRight = 0;
  for (let y = 5; y >= 0; y--) {
    for (let x = dimension - 9; x >= dimension - 11; x--) topRight = (topRight << 1) | bit(x, y);
  }
  let bottomLeft = 0;
  for (let x = 5; x >= 0; x--) {
    for (let y = dimension - 9; y >= dimension - 11; y--) {
      bottomLeft = (bottomLeft << 1) | bit(x, y);
    }
  }
  const index = nearestWord(VERSION_WORDS, [topRight, bottomLeft]);
  if (index < 0 || index + 7 !== fromDimension) throw notReadable();
  return fromDimension;
}

// ---------------------------------------------------------------------------------------------
// 5. Codewords: unmasking, zig-zag reading, blocks
// ---------------------------------------------------------------------------------------------

/** Module centres of alignment patterns along each axis (ISO/IEC 18004 Annex E). */
function alignmentCentres(version) {
  if (version === 1) return [];
  const count = Math.floor(version / 7) + 2;
  const step = version === 32
    ? 26
    : Math.floor((version * 4 + count * 2 + 1) / (count * 2 - 2)) * 2;
  const centres = [6];
  for (let position = 17 + 4 * version - 7; centres.length < count; position -= step) {
    centres.splice(1, 0, position);
  }
  return centres;
}

/** 1 where a module belongs to a function pattern (finders, timing, alignment, format, version). */
function functionPatternMask(version) {
  const dimension = 17 + 4 * version;
  const mask = new Uint8Array(dimension * dimension);
  const fill = (left, top, width, height) => {
    for (let y = top; y < top + height; y++) {
      mask.fill(1, y * dimension + left, y * dimension + left + width);
    }
  };
  fill(0, 0, 9, 9);
  fill(dimension - 8, 0, 8, 9);
  fill(0, dimension - 8, 9, 8);
  const centres = alignmentCentres(version);
  const last = centres.length - 1;
  centres.forEach((y, row) => {
    centres.forEach((x, column) => {
      const overlapsFinder = (row === 0 && (column === 0 || column === last)) ||
        (row === last && column === 0);
      if (!overlapsFinder) fill(x - 2, y - 2, 5, 5);
    });
  });
  fill(6, 9, 1, dimension - 17);
  fill(9, 6, dimension - 17, 1);
  if (version >= 7) {
    fill(dimension - 11, 0, 3, 6);
    fill(0, dimension - 11, 6, 3);
  }
  return mask;
}

/** Is the data module at (row, column) inverted by mask pattern `mask`? */
function isMasked(mask, row, column) {
  switch (mask) {
    case 0: return (row + column) % 2 === 0;
    case 1: return row % 2 === 0;
    case 2: return column % 3 === 0;
    case 3: return (row + column) % 3 === 0;
    case 4: return (Math.floor(row / 2) + Math.floor(column / 3)) % 2 === 0;
    case 5: return ((row * column) % 2) + ((row * column) % 3) === 0;
    case 6: return (((row * column) % 2) + ((row * column) % 3)) % 2 === 0;
    default: return (((row + column) % 2) + ((row * column) % 3)) % 2 === 0;
  }
}

/** Codeword bytes in placement order: two-column strips from the right, up then down. */
function readCodewords(modules, version, mask) {
  const dimension = 17 + 4 * version;
  const isFunction = functionPatternMask(version);
  const codewords = [];
  let current = 0;
  let bitsRead = 0;
  let upward = true;
  for (let right = dimension - 1; right > 0; right -= 2) {
    if (right === 6) right--; // the vertical timing pattern takes a whole column
    for (let count = 0; count < dimension; count++) {
      const row = upward ? dimension - 1 - count : count;
      for (let column = right; column > right - 2; column--) {
        const index = row * dimension + column;
        if (isFunction[index]) continue;
        const bit = modules[index] ^ (isMasked(mask, row, column) ? 1 : 0);
        current = (current << 1) | bit;
        if (++bitsRead === 8) {
          codewords.push(current);
          current = 0;
          bitsRead = 0;
        }
      }
    }
    upward = !upward;
  }
  return codewords;
}

/** The data codewords after splitting the interleaved stream into blocks and correcting each. */
function correctedDataCodewords(codewords, version, levelIndex) {
  const [ecPerBlock, ...groups] = EC_BLOCKS[version - 1][levelIndex];
  const blocks = [];
  for (let group = 0; group < groups.length; group += 2) {
    for (let count = 0; count < groups[group]; count++) {
      blocks.push({ dataCount: groups[group + 1], bytes: [] });
    }
  }
  const total = blocks.reduce((sum, block) => sum + block.dataCount + ecPerBlock, 0);
  if (codewords.length !== total) throw notReadable();
  let offset = 0;
  const longestData = blocks[blocks.length - 1].dataCount;
  for (let index = 0; index < longestData; index++) {
    for (const block of blocks) {
      if (index < block.dataCount) block.bytes.push(codewords[offset++]);
    }
  }
  for (let index = 0; index < ecPerBlock; index++) {
    for (const block of blocks) block.bytes.push(codewords[offset++]);
  }
  const data = [];
  for (const block of blocks) {
    const bytes = Uint8Array.from(block.bytes);
    if (!correctErrors(bytes, ecPerBlock)) throw notReadable();
    for (let index = 0; index < block.dataCount; index++) data.push(bytes[index]);
  }
  return data;
}

// ---------------------------------------------------------------------------------------------
// 6. Reed-Solomon over GF(256), primitive polynomial x^8 + x^4 + x^3 + x^2 + 1
// ---------------------------------------------------------------------------------------------

const GF_EXP = new Uint8Array(512);
const GF_LOG = new Uint8Array(256);
(function buildGaloisTables() {
  let value = 1;
  for (let power = 0; power < 255; power++) {
    GF_EXP[power] = value;
    GF_LOG[value] = power;
    value <<= 1;
    if (value & 0x100) value ^= 0x11d;
  }
  for (let power = 255; power < 512; power++) GF_EXP[power] = GF_EXP[power - 255];
})();

function gfMultiply(a, b) {
  return a === 0 || b === 0 ? 0 : GF_EXP[GF_LOG[a] + GF_LOG[b]];
}

function gfDivide(a, b) {
  return a === 0 ? 0 : GF_EXP[GF_LOG[a] + 255 - GF_LOG[b]];
}

/** alpha ** power for any integer power. */
function gfAlphaPower(power) {
  return GF_EXP[((power % 255) + 255) % 255];
}

/** Evaluates a polynomial given lowest degree first. */
function evaluateLowFirst(coefficients, x) {
  let value = 0;
  for (let index = coefficients.length - 1; index >= 0; index--) {
    value = gfMultiply(value, x) ^ coefficients[index];
  }
  return value;
}

/** S_j = R(alpha^j), j = 0 .. ecCount - 1, with block[0] the highest-degree coefficient. */
function syndromesOf(block, ecCount) {
  const syndromes = new Uint8Array(ecCount);
  for (let j = 0; j < ecCount; j++) {
    const x = GF_EXP[j];
    let value = 0;
    for (let index = 0; index < block.length; index++) value = gfMultiply(value, x) ^ block[index];
    syndromes[j] = value;
  }
  return syndromes;
}

/** The error locator polynomial (lowest degree first) by Berlekamp-Massey, and its length L. */
function berlekampMassey(syndromes) {
  let locator = [1];
  let previous = [1];
  let length = 0;
  let shift = 1;
  let previousDiscrepancy = 1;
  for (let n = 0; n < syndromes.length; n++) {
    let discrepancy = syndromes[n];
    for (let i = 1; i <= length && i < locator.length; i++) {
      discrepancy ^= gfMultiply(locator[i], syndromes[n - i]);
    }
    if (discrepancy === 0) {
      shift++;
      continue;
    }
    const factor = gfDivide(discrepancy, previousDiscrepancy);
    const next = locator.slice();
    while (next.length < previous.length + shift) next.push(0);
    previous.forEach((coefficient, i) => { next[i + shift] ^= gfMultiply(factor, coefficient); });
    if (2 * length <= n) {
      previous = locator;
      length = n + 1 - length;
      previousDiscrepancy = discrepancy;
      shift = 1;
    } else {
      shift++;
    }
    locator = next;
  }
  return { locator, length };
}

/** Corrects `block` in place; false when it holds more errors than its EC codewords can fix. */
function correctErrors(block, ecCount) {
  const syndromes = syndromesOf(block, ecCount);
  if (syndromes.every((value) => value === 0)) return true;
  const { locator, length } = berlekampMassey(syndromes);
  if (2 * length > ecCount) return false;
  // Chien search: an error at power p (block index n-1-p) makes locator(alpha^-p) zero.
  const errorPowers = [];
  for (let power = 0; power < block.length; power++) {
    if (evaluateLowFirst(locator, gfAlphaPower(-power)) === 0) errorPowers.push(power);
  }
  if (errorPowers.length !== length) return false;
  // Forney (first consecutive root alpha^0): e = X * omega(X^-1) / locator'(X^-1).
  const omega = new Uint8Array(ecCount);
  for (let i = 0; i < ecCount; i++) {
    for (let k = 0; k <= i && k < locator.length; k++) {
      omega[i] ^= gfMultiply(syndromes[i - k], locator[k]);
    }
  }
  for (const power of errorPowers) {
    const inverse = gfAlphaPower(-power);
    let derivative = 0;
    for (let i = 1; i < locator.length; i += 2) {
      derivative ^= gfMultiply(locator[i], gfAlphaPower(-power * (i - 1)));
    }
    if (derivative === 0) return false;
    const magnitude = gfMultiply(gfAlphaPower(power),
      gfDivide(evaluateLowFirst(omega, inverse), derivative));
    block[block.length - 1 - power] ^= magnitude;
  }
  return syndromesOf(block, ecCount).every((value) => value === 0);
}

// ---------------------------------------------------------------------------------------------
// 7. The bit stream: segments and text
// ---------------------------------------------------------------------------------------------

class BitReader {
  constructor(bytes) {
    this.bytes = bytes;
    this.position = 0;
  }

  available() {
    return this.bytes.length * 8 - this.position;
  }

  read(count) {
    if (count > this.available()) throw notReadable();
    let value = 0;
    for (let index = 0; index < count; index++, this.position++) {
      const byte = this.bytes[this.position >> 3];
      value = (value << 1) | ((byte >> (7 - (this.position & 7))) & 1);
    }
    return value;
  }
}

/** Bits of the character count indicator, by mode, for versions 1-9, 10-26 and 27-40. */
const COUNT_BITS = { numeric: [10, 12, 14], alphanumeric: [9, 11, 13], byte: [8, 16, 16],
  kanji: [8, 10, 12] };

function countBits(mode, version) {
  return COUNT_BITS[mode][version <= 9 ? 0 : version <= 26 ? 1 : 2];
}

function readEciDesignator(reader) {
  const first = reader.read(8);
  if ((first & 0x80) === 0) return first;
  if ((first & 0xc0) === 0x80) return ((first & 0x3f) << 8) | reader.read(8);
  if ((first & 0xe0) === 0xc0) return ((first & 0x1f) << 16) | reader.read(16);
  throw notReadable();
}

function readNumeric(reader, count, out) {
  for (; count >= 3; count -= 3) {
    const value = reader.read(10);
    if (value >= 1000) throw notReadable();
    out.push(...String(value).padStart(3, "0"));
  }
  if (count === 2) {
    const value = reader.read(7);
    if (value >= 100) throw notReadable();
    out.push(...String(value).padStart(2, "0"));
  } else if (count === 1) {
    const value = reader.read(4);
    if (value >= 10) throw notReadable();
    out.push(String(value));
  }
}

function readAlphanumeric(reader, count, out) {
  for (; count >= 2; count -= 2) {
    const value = reader.read(11);
    if (value >= 45 * 45) throw notReadable();
    out.push(ALPHANUMERIC_CHARS[Math.floor(value / 45)], ALPHANUMERIC_CHARS[value % 45]);
  }
  if (count === 1) {
    const value = reader.read(6);
    if (value >= 45) throw notReadable();
    out.push(ALPHANUMERIC_CHARS[value]);
  }
}

/** Kanji mode: 13-bit values back to Shift_JIS byte pairs. */
function readKanji(reader, count) {
  const bytes = [];
  for (let index = 0; index < count; index++) {
    const value = reader.read(13);
    let code = ((Math.floor(value / 0xc0)) << 8) | (value % 0xc0);
    code += code < 0x1f00 ? 0x8140 : 0xc140;
    bytes.push(code >> 8, code & 0xff);
  }
  return bytes;
}

/** Text of `bytes` in `charset`; without a declared charset, UTF-8 when valid else Latin-1. */
function bytesToText(bytes, charset) {
  const array = Uint8Array.from(bytes);
  if (charset !== null && charset !== "iso-8859-1") {
    try {
      return new TextDecoder(charset).decode(array);
    } catch {
      // An encoding this browser does not know: read the bytes as ISO-8859-1 below.
    }
  }
  if (charset === null) {
    try {
      return new TextDecoder("utf-8", { fatal: true }).decode(array);
    } catch {
      // Not UTF-8: ISO/IEC 18004's default byte interpretation is ISO-8859-1.
    }
  }
  let text = "";
  for (const byte of array) text += String.fromCharCode(byte);
  return text;
}

/** Appends characters or bytes to the last chunk when its charset matches, else a new chunk. */
function appendChunk(chunks, charset, bytes) {
  const last = chunks[chunks.length - 1];
  if (last && last.charset === charset) {
    for (const byte of bytes) last.bytes.push(byte);
  } else {
    chunks.push({ charset, bytes: Array.from(bytes) });
  }
}

function asciiBytes(characters) {
  return characters.map((character) => character.charCodeAt(0));
}

/** The text of a symbol's data codewords, segment by segment until the terminator. */
function decodeSegments(data, version) {
  const reader = new BitReader(data);
  const chunks = [];
  let charset = null;
  while (reader.available() >= 4) {
    const mode = reader.read(4);
    if (mode === 0) break; // terminator
    if (mode === 1 || mode === 2) {
      const characters = [];
      if (mode === 1) readNumeric(reader, reader.read(countBits("numeric", version)), characters);
      else readAlphanumeric(reader, reader.read(countBits("alphanumeric", version)), characters);
      appendChunk(chunks, charset, asciiBytes(characters));
    } else if (mode === 4) {
      const count = reader.read(countBits("byte", version));
      const bytes = [];
      for (let index = 0; index < count; index++) bytes.push(reader.read(8));
      appendChunk(chunks, charset, bytes);
    } else if (mode === 7) {
      charset = ECI_CHARSETS.get(readEciDesignator(reader)) ?? null;
    } else if (mode === 8) {
      appendChunk(chunks, "shift_jis", readKanji(reader, reader.read(countBits("kanji", version))));
    } else if (mode === 3) {
      reader.read(16); // structured append: sequence, total and parity; one symbol is read alone
    } else if (mode === 5) {
      continue; // FNC1 in first position (GS1): no data bits
    } else if (mode === 9) {
      reader.read(8); // FNC1 in second position: the application indicator
    } else {
      throw notReadable();
    }
  }
  return chunks.map((chunk) => bytesToText(chunk.bytes, chunk.charset)).join("");
}

// ---------------------------------------------------------------------------------------------
// 8. The reader: tries in order, each bounded
// ---------------------------------------------------------------------------------------------

/** The text of the sampled modules, read as they are; throws NotReadable. */
function decodeModules(modules, dimension) {
  const { levelIndex, mask } = readFormat(modules, dimension);
  const version = readVersion(modules, dimension);
  const codewords = readCodewords(modules, version, mask);
  const data = correctedDataCodewords(codewords, version, levelIndex);
  return decodeSegments(data, version);
}

/** Reads the sampled modules as they are, then mirrored; null when neither reads. */
function decodeSampled(modules, dimension) {
  for (const candidate of [modules, transposed(modules, dimension)]) {
    try {
      return decodeModules(candidate, dimension);
    } catch (error) {
      if (!(error instanceof NotReadable)) throw error;
    }
  }
  return null;
}

/** The symbol framed by three finders, at the estimated dimension, then 1 and 2 versions off. */
function decodeAtFinders(image, bottomLeft, topLeft, topRight) {
  const moduleSize = (moduleSizeBetween(image, topLeft, topRight) +
    moduleSizeBetween(image, topLeft, bottomLeft)) / 2;
  if (!(moduleSize >= 1)) return null;
  const estimated = estimateDimension(topLeft, topRight, bottomLeft, moduleSize);
  for (const dimension of [estimated, estimated + 4, estimated - 4, estimated + 8, estimated - 8]) {
    if (dimension < 21 || dimension > 177) continue;
    const alignment = dimension > 21
      ? findAlignment(image, topLeft, topRight, bottomLeft, moduleSize, dimension)
      : null;
    for (const corner of alignment ? [alignment, null] : [null]) {
      const transform = moduleToPixelTransform(topLeft, topRight, bottomLeft, corner, dimension);
      let modules;
      try {
        modules = sampleModules(image, transform, dimension);
      } catch (error) {
        if (!(error instanceof NotReadable)) throw error;
        continue;
      }
      const text = decodeSampled(modules, dimension);
      if (text !== null) return text;
    }
  }
  return null;
}

function decodeBinaryImage(image) {
  const candidates = findFinderCandidates(image);
  for (const triple of rankFinderTriples(candidates)) {
    const text = decodeAtFinders(image, ...orderFinderTriple(triple));
    if (text !== null) return text;
  }
  return null;
}

/**
 * The text of the first QR code found in `imageData` ({data: RGBA bytes, width, height}, as
 * a canvas's getImageData returns), or null when none reads. Dark-on-light is tried first, then
 * light-on-dark, then both again after a 3x3 median filter (speckled photos). Throws RangeError
 * on a malformed image or one over 4096 x 4096 pixels.
 */
export function decodeQr(imageData) {
  const { data, width, height } = imageData ?? {};
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 0 || height < 0) {
    throw new RangeError("decodeQr: width and height must be non-negative integers");
  }
  if (width * height > IMAGE_PIXELS_MAX) {
    throw new RangeError("decodeQr: image larger than 4096 x 4096 pixels; downscale it first");
  }
  if (!data || data.length < width * height * 4) {
    throw new RangeError("decodeQr: data must hold width * height RGBA pixels");
  }
  if (width < IMAGE_SIDE_MIN || height < IMAGE_SIDE_MIN) return null;
  const luminance = toLuminance(data, width, height);
  const image = binarise(luminance, width, height);
  const text = decodeBinaryImage(image) ?? decodeBinaryImage(inverted(image));
  if (text !== null) return text;
  const smoothed = binarise(medianFiltered(luminance, width, height), width, height);
  return decodeBinaryImage(smoothed) ?? decodeBinaryImage(inverted(smoothed));
}
