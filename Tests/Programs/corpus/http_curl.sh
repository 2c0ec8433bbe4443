#!/bin/sh
# python's http.server answering two curl requests (a listing and a 404),
# then stopped with SIGTERM. Usage: http_curl.sh PORT
# It lists its own directory: /tmp changes between the two runs (other tests).
cd "$(dirname "$0")" && /usr/bin/python3 -m http.server "$1" --bind 127.0.0.1 >/dev/null 2>&1 & server=$!
until grep -q ":$(printf %04X "$1") 00000000:0000 0A" /proc/net/tcp; do sleep 0.02; done
curl -s -o /dev/null "http://127.0.0.1:$1/"
curl -s -o /dev/null "http://127.0.0.1:$1/nothing"
# curl is done once it has the reply; the server then shuts its end down and
# closes: wait until no connection on the port is ESTABLISHED or CLOSE_WAIT.
until ! grep -qE ":$(printf %04X "$1") [0-9A-F]{8}:[0-9A-F]{4} 0[18] " /proc/net/tcp; do sleep 0.02; done
kill $server; wait $server; exit 0
