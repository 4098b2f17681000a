"""Runs a command in a pseudo-terminal, answering prompts: a test helper.

Input (JSON on stdin): {"argv": [...], "env": {...}, "steps": [[expect, send], ...]}.
For each step it reads the terminal until `expect` appears, then types `send`. Output (JSON):
{"code": exit status, "transcript": everything the terminal showed}.
"""
import json, os, pty, select, sys, time

job = json.load(sys.stdin)
pid, fd = pty.fork()
if pid == 0:
    os.execve(job["argv"][0], job["argv"], job["env"])

transcript = b""
deadline = time.time() + 60

def read_some(timeout):
    global transcript
    r, _, _ = select.select([fd], [], [], timeout)
    if not r:
        return False
    try:
        data = os.read(fd, 4096)
    except OSError:
        return None
    if not data:
        return None
    transcript += data
    return True

for expect, send in job["steps"]:
    needle = expect.encode()
    start = len(transcript)
    while needle not in transcript[start:] and time.time() < deadline:
        if read_some(0.5) is None:
            break
    os.write(fd, send.encode())

while time.time() < deadline:
    if read_some(0.5) is None:
        break
_, status = os.waitpid(pid, 0)
print(json.dumps({"code": os.waitstatus_to_exitcode(status), "transcript": transcript.decode("utf8", "replace")}))
