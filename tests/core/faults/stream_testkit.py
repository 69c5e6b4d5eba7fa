"""A real network camera for the reconnect tests: MJPEG over HTTP on 127.0.0.1, which OpenCV's FFmpeg backend reads
like an IP camera's stream, and which can be stopped (every connection dropped, the port closed) and started again
on the same port."""

from __future__ import annotations

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cv2
import numpy as np

STREAM_PATH = "/stream.mjpg"


class MjpegCamera:
    """Serves `fps` JPEG frames a second at http://127.0.0.1:<port>/stream.mjpg; frame n is grey level 10 n mod 250.

    Example:
        >>> with MjpegCamera() as camera:           # doctest: +SKIP
        ...     camera.stop(); camera.start()       # a cable pulled and plugged back in
    """

    def __init__(self, fps: float = 25.0, size: tuple[int, int] = (64, 48)) -> None:
        self.fps, self.size = fps, size
        self.port = 0
        self.frames_sent = 0
        self._server: ThreadingHTTPServer | None = None
        self._stopping = threading.Event()
        self._handlers: list[threading.Thread] = []
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{STREAM_PATH}"

    def __enter__(self) -> MjpegCamera:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        camera = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # keep the test output clean
                pass

            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                with camera._lock:
                    camera._handlers.append(threading.current_thread())
                if self.path != STREAM_PATH:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.end_headers()
                camera._serve(self.wfile)

        self._stopping.clear()
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)  # allow_reuse_address: same port
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()

    def stop(self) -> None:
        """Drop every client and close the port, as an unplugged camera does."""
        if self._server is None:
            return
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._server = None
        with self._lock:
            handlers, self._handlers = self._handlers, []
        for handler in handlers:
            handler.join(2)

    def _serve(self, stream) -> None:  # noqa: ANN001 (a socket file)
        width, height = self.size
        try:
            while not self._stopping.is_set():
                with self._lock:
                    index = self.frames_sent
                    self.frames_sent += 1
                image = np.full((height, width, 3), (10 * index) % 250, np.uint8)
                data = cv2.imencode(".jpg", image)[1].tobytes()
                stream.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(data))
                stream.write(data + b"\r\n")
                stream.flush()
                time.sleep(1.0 / self.fps)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client went away


def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
