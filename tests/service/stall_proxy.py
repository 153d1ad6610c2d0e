"""A TCP proxy between the service and PostgreSQL that can reset every connection, or stall:
stop forwarding without closing anything (a store that stops answering), until resumed.
Its own event loop runs in a thread."""

import asyncio
import threading


class StallProxy:
    def __init__(self, upstream_host: str, upstream_port: int):
        self.upstream = (upstream_host, upstream_port)
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._flowing: asyncio.Event | None = None
        self.refusing = False  # new connections closed at once (a store that is down)
        self._writers: set[asyncio.StreamWriter] = set()
        started = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(started,), daemon=True)
        self._thread.start()
        started.wait(10)

    def _run(self, started: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)
        self._flowing = asyncio.Event()
        self._flowing.set()
        server = self._loop.run_until_complete(asyncio.start_server(self._accept, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        started.set()
        self._loop.run_forever()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self._flowing.wait()  # stalled: a new connection is accepted, never answered
        if self.refusing:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}
        await asyncio.gather(self._pump(reader, up_writer), self._pump(up_reader, writer))

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                await self._flowing.wait()  # stalled: held, neither forwarded nor dropped
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    def _call(self, action) -> None:
        asyncio.run_coroutine_threadsafe(action(), self._loop).result(10)

    def reset(self) -> None:
        """Drop every connection at once (as a server restart would)."""

        async def reset():
            for writer in list(self._writers):
                writer.transport.abort()
            self._writers.clear()

        self._call(reset)

    def stall(self) -> None:
        async def stall():
            self._flowing.clear()

        self._call(stall)

    def resume(self) -> None:
        async def resume():
            self._flowing.set()

        self._call(resume)

    def close(self) -> None:
        async def close():
            for writer in list(self._writers):
                writer.transport.abort()
            tasks = asyncio.all_tasks() - {asyncio.current_task()}
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        self.resume()
        self._call(close)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
