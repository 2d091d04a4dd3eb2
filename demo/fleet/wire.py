"""Messages between the engines' process and the app processes: length-prefixed pickles over a Unix socket.

Both ends are this app, started by the same user; the socket lives in a folder only that user can enter, and
every connection opens with a random token (``Shared.token``), so nothing else can speak on it.
"""

from __future__ import annotations

import asyncio
import pickle
import socket
import struct
from dataclasses import dataclass
from pathlib import Path

from ..engines.model_card import ModelCard
from ..engines.placement import DevicePlan
from ..engines.server import ServerEndpoint
from ..engines.status import EngineStatus
from ..errors import UserFacingError

_HEADER = struct.Struct("!Q")


@dataclass(frozen=True)
class Shared:
    """What an app process is told of the engines when it starts (the rest comes as :class:`Engines` news)."""

    socket_path: str
    token: str
    model_path: Path | None
    plan: DevicePlan
    log_dir: Path
    reasoning_parser: str | None
    has_worker: bool
    card: ModelCard | None = None  # what the model's files say (family, thinking switch, sampling): the page needs it


@dataclass(frozen=True)
class EnginesNews:
    """The engines as they are now: sent to every app process when anything in it changes."""

    server: EngineStatus
    worker: EngineStatus | None
    endpoint: ServerEndpoint
    max_model_len: int


@dataclass(frozen=True)
class Failed:
    """A video answer ended by a sentence for the visitor: the error's class name, code and fields (an exception
    of ours does not survive pickling: its ``args`` are the sentence, not the code)."""

    kind: str
    code: str
    fields: dict

    @classmethod
    def of(cls, exc: UserFacingError) -> Failed:
        return cls(type(exc).__name__, exc.code, dict(exc.fields))


END = "end"  # the last message of a video answer that did not fail


def pack(obj) -> bytes:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    return _HEADER.pack(len(data)) + data


async def send(writer: asyncio.StreamWriter, obj) -> None:
    writer.write(pack(obj))
    await writer.drain()


async def receive(reader: asyncio.StreamReader):
    (size,) = _HEADER.unpack(await reader.readexactly(_HEADER.size))
    return pickle.loads(await reader.readexactly(size))


def receive_blocking(sock: socket.socket):
    """The same for a plain socket (the status follower's thread); EOFError when the other end is gone."""
    (size,) = _HEADER.unpack(_exactly(sock, _HEADER.size))
    return pickle.loads(_exactly(sock, size))


def _exactly(sock: socket.socket, size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = sock.recv(min(left, 1 << 20))
        if not chunk:
            raise EOFError("the engines' process closed the connection")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)
