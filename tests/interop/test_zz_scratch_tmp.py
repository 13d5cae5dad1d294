import time
from test_sieve import *  # noqa

def test_same_subject(srv, sink):
    put_script(srv, ALICE, 'require "vacation";\nif header :contains "subject" "sieve-vac" { vacation :days 7 "away"; }\n')
    send_plain(srv, FRIEND, ALICE, message("sieve-vac-same", FRIEND, ALICE))
    send_plain(srv, FRIEND, ALICE, message("sieve-vac-same", FRIEND, ALICE))
    send_plain(srv, FRIEND, ALICE, message("sieve-vac-diff", FRIEND, ALICE))
    time.sleep(5)
    print([(m.mail_from, m.rcpts, parsed(m.data)["Subject"]) for m in sink.messages])
    print("\n".join(log_lines(srv, "vacation")))

def test_parse(srv):
    for s in ['if true {\n  keep\n}\n', 'keep;\nif true {\n', 'require "fileinto";\nfileinto "X;\n', 'keep;\n\n  fileinto "X";\n']:
        r = srv.cli("sieve", "put", ALICE, "-", input=s, check=False)
        print(repr(s), r.returncode, r.stderr)
