"""Wake-ups for processes that wait for an answer without holding a stream (the RADIUS server):
a channel's closing message, published by ``fanout`` as usual, wakes the thread watching that
channel, embedded (a second abstract socket) and through Redis."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import sys
import time

import pytest

from tests.serving import free_port, server_env
from watchword.delivery import fanout, wakeups


@pytest.fixture
def listening(settings):
    started = []

    def start(**kwargs):
        listener = wakeups.Wakeups(data_dir=settings.DATA_DIR, **kwargs)
        listener.start()
        started.append(listener)
        return listener

    yield start
    for listener in started:
        listener.stop()


def test_a_closing_message_wakes_the_thread_watching_its_channel(listening):
    listener = listening()
    assert listener.live and listener.poll_seconds == wakeups.FALLBACK_SECONDS
    with listener.watching("device:dv_1") as other, listener.watching("challenge:ch_1") as woken:
        fanout.publish("device:dv_1", "challenge", "{}")  # not a closing message: no wake-up
        fanout.publish("challenge:ch_2", "answered", "{}", close=True)  # nobody watches it
        fanout.publish("challenge:ch_1", "answered", '{"state": "approved"}', close=True)
        assert woken.wait(5)
        assert not other.is_set()


def test_a_message_published_by_another_process_of_the_installation_wakes_this_one(listening, settings):
    listener = listening()
    script = ("import django; django.setup(); from watchword.delivery import fanout; "
              "fanout.publish('call:call_9', 'answered', '{}', close=True)")
    with listener.watching("call:call_9") as woken:
        done = subprocess.run([sys.executable, "-c", script], env=server_env(settings.DATA_DIR), capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert woken.wait(5)


def test_a_second_process_of_the_installation_polls_instead(listening):
    first, second = listening(), listening()
    assert first.live and not second.live
    assert second.poll_seconds == wakeups.POLL_SECONDS
    with second.watching("call:call_1") as woken:  # still usable: it is never set
        fanout.publish("call:call_1", "answered", "{}", close=True)
        assert not woken.wait(0.3)


def test_stopping_is_immediate_and_frees_the_address(listening):
    listener = listening()
    started = time.monotonic()
    listener.stop()
    assert time.monotonic() - started < 0.5
    assert listening().live


def test_messages_that_are_not_fanouts_are_ignored(listening):
    listener = listening()
    with listener.watching("challenge:ch_1") as woken:
        for junk in (b"", b"not json", b"[]", b'{"c": "challenge:ch_1"}', b'{"c": "challenge:ch_1", "x": 1}'):
            listener.receive(junk)
        assert not woken.is_set()


@pytest.fixture
def redis_url(tmp_path):
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    port = free_port()
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", str(tmp_path)], stdout=subprocess.DEVNULL)
    try:
        for _ in range(100):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(10)


def test_with_redis_the_waiting_process_subscribes_like_a_front(listening, redis_url, settings):
    settings.REDIS_URL = redis_url
    listener = listening(redis_url=redis_url)
    deadline = time.monotonic() + 10
    while not listener.live:
        assert time.monotonic() < deadline, "never subscribed"
        time.sleep(0.05)
    with listener.watching("call:call_1") as woken:
        fanout.publish("call:call_1", "answered", "{}", close=True)
        assert woken.wait(5)
