// The official KHQR SDK (npm bakong-khqr@1.0.20) as an oracle for the differential test.
//
// Usage: node sdk_oracle.js SDK_DIR  (SDK_DIR holds node_modules/bakong-khqr)
// Reads one JSON request per line on stdin and writes one JSON answer per line on stdout:
//   {"op": "verify", "qr": S, "now": MS}
//      -> {"outcome": "ok", "valid": B, "code": N|null, "message": S|null, "md5": S|null}
//         `valid` is BakongKHQR.verify(qr).isValid; `code` is the error the SDK's own check
//         chain throws (its verify swallows it): the same preamble as verify, then the SDK's
//         internal decodeValidation. A non-SDK throw (TypeError) gives code null and "error".
//   {"op": "decode", "qr": S} -> {"outcome": "ok", "data": {...}}
//   {"op": "generate", "kind": "individual"|"merchant", "info": {...}, "now": MS}
//      -> {"outcome": "ok", "status": {...}, "data": {...}|null} or {"outcome": "throw", ...}
//   {"op": "js", "fn": "parseInt"|"Number"|"String"|"toFixed", "arg": X}
//      -> {"outcome": "ok", "value": parseInt(X) | Number(X) | String(X) | X.toFixed(2)},
//         NaN and infinities as the strings "NaN", "Infinity", "-Infinity"
// Any call that runs longer than the time limit is stopped: {"outcome": "hang"}. The SDK's
// clock (Date.now) is fixed to `now` for the call.
"use strict";
const path = require("path");
const readline = require("readline");
const vm = require("vm");

const base = path.resolve(process.argv[2]);
const root = path.join(base, "node_modules", "bakong-khqr");
const sdk = require(root);
const crc16 = require(path.join(root, "src", "helper", "crc16"));
const validation = require(path.join(root, "src", "controller", "decodeValidation"));
const md5 = require(path.join(base, "node_modules", "md5"));
const { BakongKHQR, IndividualInfo, MerchantInfo } = sdk;
const LIMIT_MS = Number(process.env.ORACLE_LIMIT_MS || 250);

function verifyCode(qr) {
    // BakongKHQR.verify's own preamble, then the check chain whose first throw is the code.
    if (!/6304[A-Fa-f0-9]{4}$/.test(qr)) return 8;
    if (crc16(qr.slice(0, -4)) != qr.slice(-4).toUpperCase() || qr.length < 12) return 8;
    try {
        validation(qr);
        return null;
    } catch (error) {
        if (error && error.status) return error.status.errorCode;
        throw error;
    }
}

function safeMd5(text) {
    try {
        return md5(text);
    } catch (error) {
        return null;
    }
}

function plain(value) {
    if (typeof value === "number" && !Number.isFinite(value)) return String(value);
    return value;
}

const ops = {
    js(request) {
        const arg = request.arg;
        if (request.fn === "parseInt") return { value: plain(parseInt(arg)) };
        if (request.fn === "Number") return { value: plain(Number(arg)) };
        if (request.fn === "String") return { value: String(arg) };
        return { value: arg.toFixed(2) };
    },
    verify(request) {
        const valid = BakongKHQR.verify(request.qr).isValid;
        try {
            const code = verifyCode(request.qr);
            return { valid, code, md5: safeMd5(request.qr) };
        } catch (error) {
            return { valid, code: null, error: error.name, md5: safeMd5(request.qr) };
        }
    },
    decode(request) {
        return { data: BakongKHQR.decode(request.qr).data };
    },
    generate(request) {
        const i = request.info;
        const info = request.kind === "merchant"
            ? new MerchantInfo(i.bakongAccountID, i.merchantName, i.merchantCity,
                i.merchantID, i.acquiringBank, i.optional)
            : new IndividualInfo(i.bakongAccountID, i.merchantName, i.merchantCity, i.optional);
        const khqr = new BakongKHQR();
        const answer = request.kind === "merchant"
            ? khqr.generateMerchant(info) : khqr.generateIndividual(info);
        if (answer.data && typeof answer.data.qr !== "string") {
            return { outcome: "bad_value", error: String(answer.data.qr && answer.data.qr.name) };
        }
        return { status: answer.status, data: answer.data };
    },
};

const context = vm.createContext({ ops, request: null, result: null });
const realNow = Date.now;

function answer(request) {
    Date.now = () => (request.now === undefined ? realNow() : request.now);
    context.request = request;
    try {
        vm.runInContext("result = ops[request.op](request)", context, { timeout: LIMIT_MS });
        return { outcome: "ok", ...context.result };
    } catch (error) {
        if (error && error.code === "ERR_SCRIPT_EXECUTION_TIMEOUT") return { outcome: "hang" };
        return { outcome: "throw", error: String(error && error.name) };
    } finally {
        Date.now = realNow;
    }
}

const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
const out = [];
lines.on("line", (line) => {
    if (!line) return;
    const request = JSON.parse(line);
    out.push(JSON.stringify(answer(request)));
    if (out.length >= 256) process.stdout.write(out.splice(0).join("\n") + "\n");
});
lines.on("close", () => {
    if (out.length) process.stdout.write(out.join("\n") + "\n");
});
