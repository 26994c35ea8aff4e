"""A loopback TCP relay whose connections to the server leave from a chosen loopback address
(127.0.0.0/8 is all this machine's), so a browser on this machine can sign in "from" another IP
address: the browser talks to the relay's port, the server sees the relay's source address."""

from __future__ import annotations

import selectors
import socket
import threading


class LoopbackRelay:
    def __init__(self, target_port: int, source_ip: str) -> None:
        self.target_port = target_port
        self.source_ip = source_ip
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> "LoopbackRelay":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self.listener.close()
        self._thread.join(timeout=5)

    def _accept(self) -> None:
        self.listener.settimeout(0.2)
        while not self._stop.is_set():
            try:
                client, _ = self.listener.accept()
            except (TimeoutError, socket.timeout):
                continue
            except OSError:
                return
            upstream = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            upstream.bind((self.source_ip, 0))
            try:
                upstream.connect(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                upstream.close()
                continue
            threading.Thread(target=self._pipe, args=(client, upstream), daemon=True).start()

    def _pipe(self, a: socket.socket, b: socket.socket) -> None:
        selector = selectors.DefaultSelector()
        selector.register(a, selectors.EVENT_READ, b)
        selector.register(b, selectors.EVENT_READ, a)
        try:
            open_ends = 2
            while open_ends and not self._stop.is_set():
                for key, _ in selector.select(timeout=0.5):
                    data = key.fileobj.recv(65536)
                    if not data:
                        selector.unregister(key.fileobj)
                        try:
                            key.data.shutdown(socket.SHUT_WR)
                        except OSError:
                            pass
                        open_ends -= 1
                        continue
                    key.data.sendall(data)
        except OSError:
            pass
        finally:
            selector.close()
            a.close()
            b.close()
