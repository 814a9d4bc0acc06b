"""Command line: `python -m service` serves; `python -m service remove-bg ...` cuts out local files."""

from __future__ import annotations

import argparse
import logging
import sys

from .settings import Settings, SettingsError


def serve(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m service",
        description="Run the Cutout server (API, job workers, webhook dispatcher). "
        "Configure it with CUTOUT_* environment variables (see README). "
        "Subcommand: remove-bg IMAGE... --out DIR (see `python -m service remove-bg --help`).",
    )
    parser.parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"cutout: {exc}", file=sys.stderr)
        return 2

    import uvicorn

    from . import memory
    from .app import create_app
    from .protocol import with_head_deadline
    from .storage import quiet_store_clients

    memory.tune_allocator()  # before the thread pool's threads take arenas of their own

    logging.basicConfig(level=settings.log_level.upper(), format="%(message)s")
    quiet_store_clients()
    app = create_app(settings)
    # uvicorn's own bounds: a head of at most 16 KiB (h11), 5 s idle between requests (timeout_keep_alive);
    # the protocol adds a deadline for each head, the middleware one for each body.
    uvicorn.run(
        app, host=settings.host, port=settings.port, log_level=settings.log_level, access_log=False,
        http=with_head_deadline(settings.header_timeout_seconds),
    )  # fmt: skip
    return 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] == "remove-bg":
        from .batch import main as remove_bg

        return remove_bg(args[1:])
    return serve(args)


if __name__ == "__main__":
    sys.exit(main())
