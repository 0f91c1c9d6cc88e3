"""The ``obsmap`` command."""

from __future__ import annotations

import argparse
import json
import logging
import sys

from geo.mission import MissionDataError, load_mission


def _serve(args: argparse.Namespace) -> int:
    from dashboard.app import create_app, resolve_data_dir

    app = create_app(resolve_data_dir(args.data))
    print(f"obsmap: serving {resolve_data_dir(args.data)} at http://{args.host}:{args.port}/  (Ctrl+C to stop)", flush=True)
    app.run(host=args.host, port=args.port, debug=args.debug)
    return 0


def _summary(args: argparse.Namespace) -> int:
    from dashboard.app import resolve_data_dir
    from dashboard.summary import mission_summary

    summary = mission_summary(load_mission(resolve_data_dir(args.data)))
    if args.json:
        json.dump(summary, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        print(summary["name"] or "Mission")
        counts = ("regions", "polling_stations", "teams", "forms_total")
        print("  " + ", ".join(f"{summary[k]} {k.replace('_total', '').replace('_', ' ')}" for k in counts))
        for sentence in summary["statements"].values():
            print(f"  {sentence}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="obsmap", description="Offline map dashboard for election observation missions.")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="serve the dashboard (the demo mission unless --data is given)")
    serve.add_argument("--data", help="mission folder (default: $OBSMAP_DATA, else the demo mission)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8050, help="port (default 8050)")
    serve.add_argument("--debug", action="store_true", help="Dash debug mode (reloader and dev tools)")
    serve.set_defaults(func=_serve)

    summary = sub.add_parser("summary", help="print the mission's figures")
    summary.add_argument("--data", help="mission folder (default: $OBSMAP_DATA, else the demo mission)")
    summary.add_argument("--json", action="store_true", help="print JSON for scripts and reviewers")
    summary.set_defaults(func=_summary)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except MissionDataError as exc:
        print(f"obsmap: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
