"""Fault injection: what can go wrong, per phone number or globally, drawn from a seeded RNG.

Each request draws exactly three uniforms (two for latency, one for the action) and each
accepted send six more (callback faults), whatever the configuration, so a seed replays the
same faults for the same sequence of requests.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ccx.sandbox.errors import ASYNC_FAILURE_CODES, CATALOG

LATENCY_KINDS = ("none", "fixed", "uniform", "normal", "exponential")


def _prob(name: str, value: Any) -> float:
    p = float(value)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{name} must be a probability in [0, 1], got {value!r}")
    return p


def _codes(
    name: str, data: Mapping[Any, Any], allowed: frozenset[int] | None, weights: bool = False
) -> dict[int, float]:
    """Code → probability (or → non-negative weight), for codes that may be injected."""
    out: dict[int, float] = {}
    for raw, weight in dict(data).items():
        code = int(raw)
        if code not in CATALOG or (allowed is not None and code not in allowed):
            raise ValueError(f"{name}: code {code} cannot be injected here")
        if weights:
            out[code] = float(weight)
            if out[code] < 0:
                raise ValueError(f"{name}[{code}]: weights must be >= 0")
        else:
            out[code] = _prob(f"{name}[{code}]", weight)
    return out


@dataclass(frozen=True, slots=True)
class Latency:
    """Added response delay: none, fixed:ms, uniform:min:max, normal:mean:sd, exponential:mean."""

    kind: str = "none"
    a_ms: float = 0.0
    b_ms: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in LATENCY_KINDS:
            raise ValueError(f"latency distribution must be one of {LATENCY_KINDS}")
        if self.a_ms < 0 or self.b_ms < 0 or (self.kind == "uniform" and self.b_ms < self.a_ms):
            raise ValueError("latency values must be >= 0 (and uniform min <= max)")

    @classmethod
    def parse(cls, spec: str) -> Latency:
        """`fixed:100`, `uniform:10:50`, `normal:50:10`, `exponential:20` (milliseconds)."""
        kind, *values = spec.split(":")
        kind = {"exp": "exponential", "const": "fixed"}.get(kind, kind)
        nums = [float(v) for v in values]
        needed = {"none": 0, "fixed": 1, "exponential": 1, "uniform": 2, "normal": 2}.get(kind)
        if needed is None or len(nums) != needed:
            raise ValueError(f"bad latency spec {spec!r}")
        return cls(kind, *nums)

    @classmethod
    def from_json(cls, data: Any) -> Latency:
        if isinstance(data, str):
            return cls.parse(data)
        kind = str(data.get("distribution", "none"))
        if kind == "fixed":
            return cls(kind, float(data["ms"]))
        if kind == "uniform":
            return cls(kind, float(data["min_ms"]), float(data["max_ms"]))
        if kind == "normal":
            return cls(kind, float(data["mean_ms"]), float(data["stddev_ms"]))
        if kind == "exponential":
            return cls(kind, float(data["mean_ms"]))
        return cls(kind)

    def to_json(self) -> dict[str, Any]:
        keys = {
            "fixed": ("ms",),
            "uniform": ("min_ms", "max_ms"),
            "normal": ("mean_ms", "stddev_ms"),
            "exponential": ("mean_ms",),
        }.get(self.kind, ())
        out: dict[str, Any] = {"distribution": self.kind}
        out.update(zip(keys, (self.a_ms, self.b_ms), strict=False))
        return out

    def sample(self, u1: float, u2: float) -> float:
        """Seconds of delay from two uniforms in [0, 1)."""
        if self.kind == "fixed":
            ms = self.a_ms
        elif self.kind == "uniform":
            ms = self.a_ms + (self.b_ms - self.a_ms) * u1
        elif self.kind == "exponential":
            ms = -self.a_ms * math.log(1.0 - u1)
        elif self.kind == "normal":
            z = math.sqrt(-2.0 * math.log(1.0 - u1)) * math.cos(2.0 * math.pi * u2)
            ms = self.a_ms + self.b_ms * z
        else:
            ms = 0.0
        return max(0.0, ms) / 1000.0


@dataclass(frozen=True, slots=True)
class CallbackFaults:
    """Per accepted send: probabilities of each status-callback fault."""

    duplicate: float = 0.0
    reorder: float = 0.0
    skip_delivered: float = 0.0
    drop: float = 0.0
    fail: float = 0.0
    #: Weights of the codes an injected `failed` status carries.
    fail_codes: Mapping[int, float] = field(default_factory=lambda: {131026: 1.0})

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CallbackFaults:
        known = {"duplicate", "reorder", "skip_delivered", "drop", "fail", "fail_codes"}
        if set(data) - known:
            raise ValueError(f"unknown callback fault(s) {sorted(set(data) - known)}")
        codes = _codes(
            "fail_codes", data.get("fail_codes", {131026: 1.0}), ASYNC_FAILURE_CODES, True
        )
        if not codes or sum(codes.values()) <= 0:
            raise ValueError("fail_codes needs at least one code with a positive weight")
        return cls(
            duplicate=_prob("duplicate", data.get("duplicate", 0.0)),
            reorder=_prob("reorder", data.get("reorder", 0.0)),
            skip_delivered=_prob("skip_delivered", data.get("skip_delivered", 0.0)),
            drop=_prob("drop", data.get("drop", 0.0)),
            fail=_prob("fail", data.get("fail", 0.0)),
            fail_codes=codes,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "duplicate": self.duplicate,
            "reorder": self.reorder,
            "skip_delivered": self.skip_delivered,
            "drop": self.drop,
            "fail": self.fail,
            "fail_codes": {str(k): v for k, v in self.fail_codes.items()},
        }


@dataclass(frozen=True, slots=True)
class FaultSpec:
    """Faults for one phone number (or the default for all)."""

    latency: Latency = field(default_factory=Latency)
    #: Probability that a request is answered with this Meta error code instead.
    error_rates: Mapping[int, float] = field(default_factory=dict)
    #: Not recorded, no answer: the request is held `hang_s`, then the connection is reset.
    timeout: float = 0.0
    #: Not recorded: the connection is reset (TCP RST) without an answer.
    reset: float = 0.0
    #: Not recorded: an HTTP 5xx with an empty body.
    empty_5xx: float = 0.0
    empty_5xx_status: int = 503
    #: Recorded and its callbacks sent, but the answer never comes (held, then reset).
    accept_no_answer: float = 0.0
    callbacks: CallbackFaults = field(default_factory=CallbackFaults)

    def __post_init__(self) -> None:
        total = sum(self.error_rates.values()) + self.timeout + self.reset
        if total + self.empty_5xx + self.accept_no_answer > 1.0 + 1e-9:
            raise ValueError("request fault probabilities add up to more than 1")
        if not 500 <= self.empty_5xx_status <= 599:
            raise ValueError("empty_5xx_status must be a 5xx status")

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FaultSpec:
        known = {
            "latency",
            "error_rates",
            "timeout",
            "reset",
            "empty_5xx",
            "empty_5xx_status",
            "accept_no_answer",
            "callbacks",
        }
        if set(data) - known:
            raise ValueError(f"unknown fault setting(s) {sorted(set(data) - known)}")
        return cls(
            latency=Latency.from_json(data.get("latency", {"distribution": "none"})),
            error_rates=_codes("error_rates", data.get("error_rates", {}), None),
            timeout=_prob("timeout", data.get("timeout", 0.0)),
            reset=_prob("reset", data.get("reset", 0.0)),
            empty_5xx=_prob("empty_5xx", data.get("empty_5xx", 0.0)),
            empty_5xx_status=int(data.get("empty_5xx_status", 503)),
            accept_no_answer=_prob("accept_no_answer", data.get("accept_no_answer", 0.0)),
            callbacks=CallbackFaults.from_json(data.get("callbacks", {})),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "latency": self.latency.to_json(),
            "error_rates": {str(k): v for k, v in self.error_rates.items()},
            "timeout": self.timeout,
            "reset": self.reset,
            "empty_5xx": self.empty_5xx,
            "empty_5xx_status": self.empty_5xx_status,
            "accept_no_answer": self.accept_no_answer,
            "callbacks": self.callbacks.to_json(),
        }


@dataclass(frozen=True, slots=True)
class FaultConfig:
    """The default spec, per-number specs (which replace the default), and the hang time."""

    default: FaultSpec = field(default_factory=FaultSpec)
    numbers: Mapping[str, FaultSpec] = field(default_factory=dict)
    hang_s: float = 30.0

    def for_number(self, phone_number_id: str) -> FaultSpec:
        return self.numbers.get(phone_number_id, self.default)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FaultConfig:
        if set(data) - {"default", "numbers", "hang_s"}:
            raise ValueError('faults: expected keys "default", "numbers", "hang_s"')
        hang_s = float(data.get("hang_s", 30.0))
        if hang_s < 0:
            raise ValueError("hang_s must be >= 0")
        return cls(
            default=FaultSpec.from_json(data.get("default", {})),
            numbers={str(k): FaultSpec.from_json(v) for k, v in data.get("numbers", {}).items()},
            hang_s=hang_s,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "default": self.default.to_json(),
            "numbers": {k: v.to_json() for k, v in self.numbers.items()},
            "hang_s": self.hang_s,
        }


class Action(StrEnum):
    NONE = "none"
    ERROR = "error"
    TIMEOUT = "timeout"
    RESET = "reset"
    EMPTY_5XX = "empty_5xx"
    ACCEPT_NO_ANSWER = "accept_no_answer"


@dataclass(slots=True)  # not frozen: built on every send, frozen init is slower
class RequestFaults:
    latency_s: float = 0.0
    action: Action = Action.NONE
    error_code: int | None = None


@dataclass(slots=True)  # not frozen: built on every send, frozen init is slower
class CallbackDecision:
    drop: bool = False
    fail_code: int | None = None
    skip_delivered: bool = False
    reorder: bool = False
    duplicate: bool = False


NO_FAULTS = RequestFaults()


class FaultInjector:
    """Draws request and callback faults from one seeded RNG per concern."""

    def __init__(self, config: FaultConfig, seed: int) -> None:
        self.config = config
        self.reseed(seed)

    def reseed(self, seed: int) -> None:
        self._requests = random.Random(f"{seed}:requests")
        self._callbacks = random.Random(f"{seed}:callbacks")

    def for_request(self, phone_number_id: str) -> RequestFaults:
        spec = self.config.for_number(phone_number_id)
        rng = self._requests
        u1, u2, u = rng.random(), rng.random(), rng.random()
        latency = spec.latency.sample(u1, u2)
        edge = 0.0
        for code, p in spec.error_rates.items():
            edge += p
            if u < edge:
                return RequestFaults(latency, Action.ERROR, code)
        for action, p in (
            (Action.TIMEOUT, spec.timeout),
            (Action.RESET, spec.reset),
            (Action.EMPTY_5XX, spec.empty_5xx),
            (Action.ACCEPT_NO_ANSWER, spec.accept_no_answer),
        ):
            edge += p
            if u < edge:
                return RequestFaults(latency, action)
        return RequestFaults(latency) if latency else NO_FAULTS

    def for_callbacks(self, phone_number_id: str) -> CallbackDecision:
        spec = self.config.for_number(phone_number_id).callbacks
        rng = self._callbacks
        u_drop, u_fail, u_code, u_skip, u_reorder, u_dup = (rng.random() for _ in range(6))
        fail_code = None
        if u_fail < spec.fail:
            total = sum(spec.fail_codes.values())
            edge = 0.0
            for code, weight in spec.fail_codes.items():
                edge += weight / total
                fail_code = code
                if u_code < edge:
                    break
        return CallbackDecision(
            drop=u_drop < spec.drop,
            fail_code=fail_code,
            skip_delivered=u_skip < spec.skip_delivered,
            reorder=u_reorder < spec.reorder,
            duplicate=u_dup < spec.duplicate,
        )
