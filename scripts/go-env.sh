# Sourced by the scripts: puts a Go >= 1.24 on PATH. A fresh Debian 12 has only
# Go 1.19 (too old for go.mod, and it predates GOTOOLCHAIN), so install it from
# apt and let it fetch the official toolchain module from the Go module proxy
# into build/go, once.
want=go1.26.8
go_ok() { command -v go >/dev/null 2>&1 && go version | grep -Eq 'go1\.(2[4-9]|[3-9][0-9])'; }
if ! go_ok && [ -x /usr/local/go/bin/go ]; then export PATH=/usr/local/go/bin:$PATH; fi
tc=$PWD/build/go/pkg/mod/golang.org/toolchain@v0.0.1-$want.linux-$(dpkg --print-architecture)
if ! go_ok && [ -x "$tc/bin/go" ]; then export PATH=$tc/bin:$PATH; fi
if ! go_ok; then
  echo "deps: fetching the Go toolchain $want through the Go module proxy"
  if [ ! -x /usr/lib/go-1.19/bin/go ]; then
    if [ "$(id -u)" = 0 ]; then apt-get install -y -qq golang-1.19-go; else sudo apt-get install -y -qq golang-1.19-go; fi
  fi
  gopath=$PWD/build/go
  (cd /tmp && GOPATH=$gopath GOFLAGS=-modcacherw /usr/lib/go-1.19/bin/go mod download "golang.org/toolchain@v0.0.1-$want.linux-$(dpkg --print-architecture)")
  # Module zips carry no file modes; the go command's own toolchain switch
  # sets these bits the same way.
  chmod +x "$tc"/bin/* "$tc"/pkg/tool/*/*
  export PATH=$tc/bin:$PATH
fi
go_ok || { echo "deps: no Go >= 1.24 on PATH and the toolchain download failed" >&2; exit 1; }
