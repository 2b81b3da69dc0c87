"""python manage.py serve: web, worker and beat together, as `make run` starts them.

A small supervisor rather than a Procfile tool: one dependency fewer, and it
stops the other two when any one of them dies, so a broken start is loud
instead of leaving half of Harrier running.
"""

import os
import signal
import subprocess
import sys
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from dashboard.celery import this_host
from sessions.services import close_host_sessions


class Command(BaseCommand):
    help = "Run Harrier's web server, Celery worker and Celery beat until interrupted."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument(
            "--concurrency",
            type=int,
            default=int(os.environ.get("HARRIER_WORKER_CONCURRENCY", "2")),
            help="runs one worker executes at once",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        python = sys.executable
        commands = {
            "web": [
                python, "-m", "gunicorn", "dashboard.wsgi:application",
                "--bind", f"{options['host']}:{options['port']}",
                "--workers", os.environ.get("WEB_CONCURRENCY", "2"),
                "--threads", "4",
                "--access-logfile", "-",
            ],
            "worker": [
                python, "-m", "celery", "-A", "dashboard", "worker",
                "--loglevel", "INFO", "--concurrency", str(options["concurrency"]),
            ],
            "beat": [python, "-m", "celery", "-A", "dashboard", "beat", "--loglevel", "INFO"],
        }  # fmt: skip
        processes = {name: subprocess.Popen(cmd) for name, cmd in commands.items()}
        self.stdout.write(
            f"Harrier is serving on http://{options['host']}:{options['port']}/ "
            "(web, worker and beat; Ctrl-C stops all three)"
        )
        stopping = False

        def stop(signum: int, frame: object) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        exit_code = 0
        while not stopping:
            for name, process in processes.items():
                if process.poll() is not None:
                    self.stderr.write(f"{name} exited with code {process.returncode}; stopping")
                    exit_code = process.returncode or 1
                    stopping = True
                    break
            time.sleep(0.5)
        for process in processes.values():
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + 20
        for process in processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
        # Session browsers live in process groups of their own so that they outlive a
        # worker restart; when the whole of Harrier stops here, they stop with it.
        closed = close_host_sessions(this_host(), "Closed because Harrier was stopped")
        if closed:
            self.stdout.write(f"Closed {closed} browser session(s) of this host")
        raise SystemExit(exit_code)
