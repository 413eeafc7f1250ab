"""An SMTP sink for `make bench` (Python's standard library only): it accepts every message and
appends one line per message to a file: `<subject>\t<recipient>`. Stops when its parent stops
it. Usage: smtp_sink.py PORT OUT_FILE"""
import asyncio
import sys

port, out_path = int(sys.argv[1]), sys.argv[2]
out = open(out_path, "a", buffering=1)


async def session(reader, writer):
    def send(line):
        writer.write(line.encode() + b"\r\n")

    send("220 sink ESMTP")
    rcpt = []
    try:
        while True:
            line = await reader.readline()
            if not line:
                break
            cmd = line.decode(errors="replace").strip()
            up = cmd.upper()
            if up.startswith("EHLO"):
                send("250-sink")
                send("250-PIPELINING")
                send("250 8BITMIME")
            elif up.startswith("HELO"):
                send("250 sink")
            elif up.startswith("MAIL FROM:"):
                rcpt = []
                send("250 OK")
            elif up.startswith("RCPT TO:"):
                rcpt.append(cmd[8:].strip().strip("<>"))
                send("250 OK")
            elif up == "DATA":
                send("354 go ahead")
                await writer.drain()
                subject = ""
                while True:
                    body = await reader.readline()
                    if not body or body == b".\r\n":
                        break
                    if not subject and body[:8].lower() == b"subject:":
                        subject = body[8:].decode(errors="replace").strip()
                for r in rcpt:
                    out.write(f"{subject}\t{r}\n")
                send("250 OK queued")
            elif up == "QUIT":
                send("221 bye")
                await writer.drain()
                break
            else:
                send("250 OK")
            await writer.drain()
    except ConnectionError:
        pass
    writer.close()


async def main():
    server = await asyncio.start_server(session, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


asyncio.run(main())
