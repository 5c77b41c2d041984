/**
 * scanner.js: read a KHQR in the page, from the phone's camera or from a photo of the code.
 *
 * `scanCamera(video, signal)` opens the back camera (getUserMedia, facingMode "environment"),
 * shows it in `video`, and every FRAME_INTERVAL_MS reads one frame: with the browser's own
 * BarcodeDetector where there is one (Android Chrome), else with our decoder (`qr-decode.js`)
 * on the frame drawn, downscaled, to an offscreen canvas. It resolves with the first code's
 * text; it rejects with the signal's reason (an AbortError by default) when the signal aborts,
 * or with a `ScanError` whose `code` says why the camera cannot be used:
 *   camera_unsupported  no getUserMedia (an old browser, or a page not served securely)
 *   camera_denied       the person or the browser's policy refused the permission
 *   camera_missing      the device has no camera
 *   camera_unavailable  the camera is busy or failed, or stopped while scanning
 * The camera is always released (every track stopped) when the promise settles.
 *
 * `scanFile(file)` reads a photo or screenshot (any image the browser decodes), downscaled to
 * at most PHOTO_SIDE_MAX pixels, then smaller if that fails; the text or null.
 *
 * Nothing here touches the network; the work per frame and per photo is bounded by the sizes
 * below and by the decoder's own bounds.
 */

import { decodeQr } from "./qr-decode.js";

/** Time between two frames read; the next waits for the previous to finish. */
const FRAME_INTERVAL_MS = 150;
/** Camera frames are downscaled to this longest side: a code filling a third of the frame
 * still has 3 pixels per module at version 10, and a frame decodes in tens of milliseconds. */
const CAMERA_FRAME_SIDE_MAX = 720;
/** Photos are read at this longest side first, then at each smaller one. */
const PHOTO_SIDES = [1600, 1000, 600];
/** A file larger than this is not decoded in the page (a phone photo is a few megabytes). */
const PHOTO_BYTES_MAX = 32 * 1024 * 1024;

/** Why the camera cannot be used: `code` is one of the codes in the module comment. */
export class ScanError extends Error {
  constructor(code, message) {
    super(message);
    this.name = "ScanError";
    this.code = code;
  }
}

function abortReason(signal) {
  return signal.reason ?? new DOMException("The scan was stopped", "AbortError");
}

/** A getUserMedia failure as a ScanError (the DOMException names of Media Capture). */
function cameraError(problem) {
  const name = problem && problem.name;
  if (name === "NotAllowedError" || name === "SecurityError" || name === "PermissionDeniedError") {
    return new ScanError("camera_denied", "Permission to use the camera was refused");
  }
  if (name === "NotFoundError" || name === "OverconstrainedError" ||
    name === "DevicesNotFoundError") {
    return new ScanError("camera_missing", "This device has no camera");
  }
  return new ScanError("camera_unavailable", "The camera is busy or failed to start");
}

/** A 2D context for reading pixels: offscreen where the browser has OffscreenCanvas. */
function pixelCanvas() {
  const canvas = typeof OffscreenCanvas === "function"
    ? new OffscreenCanvas(1, 1)
    : document.createElement("canvas");
  const context = canvas.getContext("2d", { willReadFrequently: true });
  return { canvas, context };
}

/** `source` (width x height) drawn at `scale` into the canvas, as ImageData. */
function drawScaled({ canvas, context }, source, width, height, scale) {
  const scaledWidth = Math.max(1, Math.round(width * scale));
  const scaledHeight = Math.max(1, Math.round(height * scale));
  if (canvas.width !== scaledWidth || canvas.height !== scaledHeight) {
    canvas.width = scaledWidth;
    canvas.height = scaledHeight;
  }
  context.imageSmoothingEnabled = true;
  context.imageSmoothingQuality = "high";
  context.drawImage(source, 0, 0, scaledWidth, scaledHeight);
  return context.getImageData(0, 0, scaledWidth, scaledHeight);
}

/** The browser's QR detector, or null where there is none (Chromium on Linux, Firefox). */
async function nativeDetector() {
  if (typeof globalThis.BarcodeDetector !== "function") return null;
  try {
    const formats = await globalThis.BarcodeDetector.getSupportedFormats();
    if (!formats.includes("qr_code")) return null;
    return new globalThis.BarcodeDetector({ formats: ["qr_code"] });
  } catch (_) {
    return null;
  }
}

/** The camera stream, or a ScanError; an abort while the permission prompt is open rejects
 * at once, and the stream granted later is released. */
function openCamera(signal) {
  if (!navigator.mediaDevices || typeof navigator.mediaDevices.getUserMedia !== "function") {
    return Promise.reject(new ScanError("camera_unsupported", "This browser cannot use a camera"));
  }
  const request = navigator.mediaDevices.getUserMedia({
    audio: false,
    video: { facingMode: { ideal: "environment" }, width: { ideal: 1280 },
      height: { ideal: 720 } },
  });
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(abortReason(signal));
    signal.addEventListener("abort", onAbort, { once: true });
    request.then(
      (stream) => {
        signal.removeEventListener("abort", onAbort);
        if (signal.aborted) {
          for (const track of stream.getTracks()) track.stop();
          reject(abortReason(signal));
        } else {
          resolve(stream);
        }
      },
      (problem) => {
        signal.removeEventListener("abort", onAbort);
        reject(signal.aborted ? abortReason(signal) : cameraError(problem));
      },
    );
  });
}

/** The text of the first frame of `video` that holds a code; reads until `signal` aborts. */
function watchFrames(video, stream, signal) {
  const pixels = pixelCanvas();
  const detector = nativeDetector();
  return new Promise((resolve, reject) => {
    let timer = null;
    let settled = false;
    const settle = (outcome, value) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      outcome(value);
    };
    const onAbort = () => settle(reject, abortReason(signal));
    signal.addEventListener("abort", onAbort, { once: true });
    for (const track of stream.getVideoTracks()) {
      track.addEventListener("ended", () => settle(reject,
        new ScanError("camera_unavailable", "The camera stopped")));
    }
    const readFrame = async () => {
      if (settled) return;
      try {
        const text = await frameText(video, pixels, await detector);
        if (text) {
          settle(resolve, text);
          return;
        }
      } catch (problem) {
        settle(reject, problem);
        return;
      }
      if (!settled) timer = setTimeout(readFrame, FRAME_INTERVAL_MS);
    };
    readFrame();
  });
}

/** The code in the video's current frame, or null (also while the video has no frame yet). */
async function frameText(video, pixels, detector) {
  const width = video.videoWidth;
  const height = video.videoHeight;
  if (video.readyState < 2 || width === 0 || height === 0) return null;
  if (detector) {
    try {
      const codes = await detector.detect(video);
      return codes.length > 0 && codes[0].rawValue ? codes[0].rawValue : null;
    } catch (_) {
      // A detector that fails on this frame: our decoder reads it instead.
    }
  }
  const scale = Math.min(1, CAMERA_FRAME_SIDE_MAX / Math.max(width, height));
  return decodeQr(drawScaled(pixels, video, width, height, scale));
}

/**
 * Scan a QR code with the camera, shown in `video`; resolves with its text. Rejects with
 * `signal`'s reason when it aborts, or a ScanError (see the module comment).
 */
export async function scanCamera(video, signal = new AbortController().signal) {
  if (signal.aborted) throw abortReason(signal);
  const stream = await openCamera(signal);
  try {
    video.muted = true;
    video.playsInline = true;
    video.setAttribute("playsinline", "");
    video.srcObject = stream;
    // play() may stay pending on a hidden video; frames are read once it has data either way.
    video.play().catch(() => {});
    return await watchFrames(video, stream, signal);
  } finally {
    for (const track of stream.getTracks()) track.stop();
    if (video.srcObject === stream) video.srcObject = null;
  }
}

/** The text of the QR code in an image file (a photo or a screenshot), or null. */
export async function scanFile(file) {
  if (!file || file.size > PHOTO_BYTES_MAX) return null;
  let bitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch (_) {
    return null; // not an image the browser can decode
  }
  try {
    const longest = Math.max(bitmap.width, bitmap.height);
    const pixels = pixelCanvas();
    // Each side once, never above the photo's own: [1600, 1000, 600] for a large photo.
    const sides = [...new Set(PHOTO_SIDES.map((side) => Math.min(side, longest)))];
    for (const side of sides) {
      const scale = side / longest;
      const text = decodeQr(drawScaled(pixels, bitmap, bitmap.width, bitmap.height, scale));
      if (text) return text;
    }
    return null;
  } finally {
    bitmap.close();
  }
}
