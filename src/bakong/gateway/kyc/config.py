"""The `[kyc]` table of a gateway's config.toml (issue 18).

    [kyc]
    face_distance_max = 0.5     # the ID photo and the selfie are one person at or under this
                                # dlib embedding distance (docs/kyc.md: how 0.5 was calibrated)
    automatic = true            # raise the tier at once when every check passes; false sends
                                # every submission to an officer

The table is optional; a missing one takes these defaults. `check_kyc` names what is wrong.
"""

from __future__ import annotations

import msgspec

from bakong import limits
from bakong.errors import ConfigError

__all__ = ["KycConfig", "check_kyc", "format_kyc"]


class KycConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    face_distance_max: float = limits.kyc_face_distance_default
    automatic: bool = True


def check_kyc(kyc: KycConfig) -> None:
    """`ConfigError` naming what is wrong in the `[kyc]` table."""
    if not 0 < kyc.face_distance_max <= limits.kyc_frames_distance_max:
        high = limits.kyc_frames_distance_max
        raise ConfigError(f"[kyc] face_distance_max is over 0 and at most {high}")


def format_kyc(kyc: KycConfig) -> list[str]:
    """The TOML lines of the table; none when it is all defaults."""
    if kyc == KycConfig():
        return []
    automatic = "true" if kyc.automatic else "false"
    return ["", "[kyc]", f"face_distance_max = {kyc.face_distance_max}", f"automatic = {automatic}"]
