"""One differential run: make seeded cases, ask the SDK once, compare every answer.

`run(count, seed)` makes about `count` cases: a fifth are generator requests drawn around every
SDK rule, and the rest are QR strings (the published vectors, codes from the generator, and
mutations of both), each checked by verify (at a clock near its timestamps) and by decode;
plus a slice of JavaScript-semantics probes (parseInt, Number, String, toFixed). Every case
that disagrees is reported with its full input.
"""

from __future__ import annotations

import random
from typing import Any

import msgspec

from bakong import vectors
from bakong.errors import QRDecodeError
from bakong.khqr.decode import decode
from tools.qrdiff import cases, compare, oracle

__all__ = ["Report", "run"]

_QUICK_MS = 25  # a call takes well under 1 ms; the SDK's endless loops are stopped after this
_SLOW_MS = 2_000


class Report(msgspec.Struct):
    """How many cases of each kind ran, and every disagreement with its input."""

    seed: int
    counts: dict[str, int]
    disagreements: list[dict[str, Any]]


def _seed_codes(rng: random.Random, count: int) -> list[str]:
    """Valid codes to mutate: our generator's (checked against the SDK too) and the vectors."""
    codes = [vector["qr"] for vector in vectors.load(vectors.KHQR_PUBLISHED)]
    for _ in range(count):
        request = cases.valid_input(rng)
        made = compare._ours_generate(request)
        if not isinstance(made, Exception):
            codes.append(made.qr)
    return codes


def _ends(qr: str) -> bool:
    """Whether the SDK's decode of `qr` returns (it slices some strings forever)."""
    try:
        decode(qr)
    except QRDecodeError:
        return False
    return True


def _js_probes(rng: random.Random, count: int) -> list[dict[str, Any]]:
    pool = [*"0123456789", " ", "-", "+", "x", "X", "e", "E", ".", "a", "\u00a0", "\u2028", "_"]
    probes: list[dict[str, Any]] = []
    for _ in range(count):
        text = "".join(rng.choice(pool) for _ in range(rng.randint(0, 6)))
        number = rng.choice(
            [
                rng.uniform(-1e3, 1e3),
                round(rng.uniform(0, 1e6), rng.randint(0, 3)),
                10.0 ** rng.randint(-30, 30) * rng.random(),
                rng.choice([1e21, 1e-7, 0.000001, 123456789012345680000.0, 1.005, 2.675]),
            ]
        )
        function = rng.choice(["parseInt", "Number", "String", "toFixed"])
        argument: object = text if function in ("parseInt", "Number") else number
        probes.append({"op": "js", "fn": function, "arg": argument})
    return probes


def make_requests(count: int, seed: int) -> list[dict[str, Any]]:
    """The requests of one run, in the order they are sent."""
    rng = random.Random(seed)
    generated = [cases.generate_input(rng) for _ in range(count // 5)]
    codes = _seed_codes(rng, max(20, count // 20))
    strings = list(codes)
    while len(strings) < count - len(generated):
        strings.append(cases.mutate(rng, rng.choice(codes if rng.random() < 0.7 else strings)))
    # Strings the SDK slices forever cost the oracle's time limit each: keep a sample of them.
    strings = [qr for qr in strings if _ends(qr) or rng.random() < 0.15]
    requests: list[dict[str, Any]] = list(generated)
    for qr in strings:
        requests.append({"op": "verify", "qr": qr, "now": cases.now_for(rng, qr)})
        requests.append({"op": "decode", "qr": qr})
    return requests + _js_probes(rng, max(50, count // 10))


def _disagreement(request: dict[str, Any], answer: dict[str, Any]) -> str | None:
    op = request["op"]
    if op == "verify":
        return compare.verify_disagreement(request["qr"], request["now"], answer)
    if op == "decode":
        return compare.decode_disagreement(request["qr"], answer)
    if op == "generate":
        return compare.generate_disagreement(request, answer)
    return compare.js_disagreement(request, answer)


def run(count: int, seed: int) -> Report:
    """Run about `count` cases from `seed` against the SDK; see the module docstring."""
    requests = make_requests(count, seed)
    answers = oracle.ask(requests, limit_ms=_QUICK_MS)
    problems = [_disagreement(*pair) for pair in zip(requests, answers, strict=True)]
    # A call stopped by the short limit on a case we expect to end is asked again, slowly, so
    # that a pause of the machine is not mistaken for the SDK's endless loops.
    again = [i for i, problem in enumerate(problems) if problem and answers[i]["outcome"] == "hang"]
    retried = oracle.ask([requests[index] for index in again], _SLOW_MS)
    for index, answer in zip(again, retried, strict=True):
        answers[index] = answer
        problems[index] = _disagreement(requests[index], answer)
    counts: dict[str, int] = {}
    disagreements: list[dict[str, Any]] = []
    for request, answer, problem in zip(requests, answers, problems, strict=True):
        counts[request["op"]] = counts.get(request["op"], 0) + 1
        if problem is not None:
            disagreements.append({"input": request, "sdk": answer, "problem": problem})
    return Report(seed, counts, disagreements)
