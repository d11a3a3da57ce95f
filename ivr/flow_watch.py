"""Reload the served flows when their files change (watchfiles) or on request (SIGHUP).

A file is watched through its folder, not by itself: editors often save by writing a new
file and renaming it over the old one, which a watch on the old file would miss. A folder
target is watched recursively for `*.yaml` / `*.yml`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

import watchfiles

from flows.versions import Reload, ServedFlows

log = logging.getLogger("ivr.reload")

FLOW_SUFFIXES = (".yaml", ".yml")


def report(result: Reload, why: str) -> None:
    """Log a reload the way an operator reads it: located errors, then what still serves."""
    if not result.accepted:
        for problem in result.errors:
            log.error("%s", problem)
        log.error(
            "reload (%s) refused: %d error(s) above; still serving the last good version",
            why,
            len(result.errors),
        )
        return
    for problem in result.problems:
        log.warning("%s", problem)
    for loaded in result.changed:
        log.info(
            "reload (%s): flow '%s' version %s takes new calls; calls in progress finish on "
            "the version they started on",
            why,
            loaded.flow.id,
            loaded.version,
        )
    for flow_id in result.removed:
        log.info("reload (%s): flow '%s' is gone; it takes no new calls", why, flow_id)


class FlowWatcher:
    def __init__(
        self,
        served: ServedFlows,
        *,
        on_reload: Callable[[Reload, str], None] = report,
        debounce_ms: int = 300,
        force_polling: bool | None = None,
    ) -> None:
        self.served = served
        self.on_reload = on_reload
        self.debounce_ms = debounce_ms
        self.force_polling = force_polling
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for target in self.served.targets:
            thread = threading.Thread(
                target=self._watch, args=(Path(target),), name=f"flow-watch {target}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)

    def reload_now(self, why: str = "SIGHUP") -> None:
        """Reload in the background: safe to call from a signal handler."""
        threading.Thread(target=self._reload, args=(why,), daemon=True).start()

    def _reload(self, why: str) -> None:
        try:
            result = self.served.reload()
        except Exception:  # a watcher thread that dies would silently stop reloads
            log.exception("reload (%s) failed; still serving the last good version", why)
            return
        self.on_reload(result, why)

    def _watch(self, target: Path) -> None:
        folder = target.is_dir()
        root = target if folder else target.parent
        wanted = target.resolve()

        def relevant(_: watchfiles.Change, path: str) -> bool:
            changed = Path(path)
            if folder:
                return changed.suffix in FLOW_SUFFIXES
            return changed.name == target.name and changed.resolve() == wanted

        try:
            for changes in watchfiles.watch(
                root,
                watch_filter=relevant,
                recursive=folder,
                debounce=self.debounce_ms,
                stop_event=self._stop,
                force_polling=self.force_polling,
                raise_interrupt=False,
            ):
                if changes:
                    self._reload("file changed")
        except Exception:
            log.exception("watching %s stopped; reload with SIGHUP", target)
