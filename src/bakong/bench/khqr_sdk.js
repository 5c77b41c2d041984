// `bakong bench qr`'s baseline: the official KHQR SDK (npm bakong-khqr) timed under Node.
//
// Usage: node khqr_sdk.js SDK_DIR SECONDS  (SDK_DIR holds node_modules/bakong-khqr)
// Reads a JSON list of QR strings on stdin. Runs BakongKHQR.verify then BakongKHQR.decode on
// each string in turn: first for min(1, SECONDS) seconds so that V8 optimises, then for
// SECONDS, timed with process.hrtime. Prints {"count": N, "seconds": T} for the timed part.
"use strict";
const fs = require("fs");
const path = require("path");

const { BakongKHQR } = require(path.join(path.resolve(process.argv[2]), "node_modules", "bakong-khqr"));
const seconds = Number(process.argv[3]);
const codes = JSON.parse(fs.readFileSync(0, "utf8"));

function loop(limitSeconds) {
    const started = process.hrtime.bigint();
    const limit = BigInt(Math.round(limitSeconds * 1e9));
    let count = 0;
    for (;;) {
        for (const qr of codes) {
            BakongKHQR.verify(qr);
            BakongKHQR.decode(qr);
        }
        count += codes.length;
        const spent = process.hrtime.bigint() - started;
        if (spent >= limit) return { count, seconds: Number(spent) / 1e9 };
    }
}

loop(Math.min(1, seconds));
process.stdout.write(JSON.stringify(loop(seconds)) + "\n");
