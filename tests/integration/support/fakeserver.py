"""fakeserver.py - a TCP server that is not a healthy Redis, run as its own
process: `python3 fakeserver.py PORT MODE`.

MODE hang:    accepts connections and never answers (a stuck server);
MODE garbage: answers every read with bytes that are not RESP;
MODE error:   answers every read with a well-formed RESP error reply, as a
              Redis without cluster support answers CLUSTER SHARDS.
It prints "ready" once listening, so the test starts only then, and runs
until killed (the test kills it; PR_SET_PDEATHSIG covers a killed run).
"""
import socket
import sys
import threading


def serve(conn, mode):
    with conn:
        try:
            while True:
                data = conn.recv(4096)
                if not data:
                    return
                if mode == "garbage":
                    conn.sendall(b"\x00\xffthis is not RESP\r\n*-7\r\n$99999999999\r\n")
                elif mode == "error":
                    conn.sendall(b"-ERR This instance has cluster support disabled\r\n")
        except OSError:
            return


def main():
    port, mode = int(sys.argv[1]), sys.argv[2]
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(64)
    print("ready", flush=True)
    while True:
        conn, _ = s.accept()
        threading.Thread(target=serve, args=(conn, mode), daemon=True).start()


if __name__ == "__main__":
    main()
