"""Admin actions (who, what, when) as one structured log line each, on the `ivr.admin`
logger: API reads of call context, `ivr db prune`, flow reloads, refused credentials.

`when` is the line's own time; `who` names a credential without revealing it (`key:1a2b3c4d`,
`basic:alice`, `loopback`, or the operating-system user for commands).
"""

from __future__ import annotations

import getpass
import logging

from ivr.logs import FIELDS

log = logging.getLogger("ivr.admin")


def admin_action(who: str, action: str, *, level: int = logging.INFO, **details: object) -> None:
    """Log one admin action: `action` says what in a few words ("read call context")."""
    fields = {"admin": True, "who": who, "action": action, **details}
    log.log(level, "%s by %s", action, who, extra={FIELDS: fields})


def command_user() -> str:
    """Who runs a command on this machine, for `who` in command-line admin actions."""
    try:
        return f"user:{getpass.getuser()}"
    except (KeyError, OSError):  # no passwd entry (some containers)
        return "user:unknown"
