// Command echo_go is a Go net echo server: one goroutine per connection,
// echoing with io.Copy until the client half-closes.
//
//	usage: echo_go tcp HOST PORT | echo_go unix PATH
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	var network, address string
	switch {
	case len(os.Args) == 4 && os.Args[1] == "tcp":
		network, address = "tcp", net.JoinHostPort(os.Args[2], os.Args[3])
	case len(os.Args) == 3 && os.Args[1] == "unix":
		network, address = "unix", os.Args[2]
		removeStaleSocket(address)
	default:
		fmt.Fprintln(os.Stderr, "usage: echo_go tcp HOST PORT | echo_go unix PATH")
		os.Exit(2)
	}

	// Go listens with a backlog of net.core.somaxconn, read from /proc.
	ln, err := net.Listen(network, address)
	if err != nil {
		log.Fatal(err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		ln.Close() // also unlinks the unix socket
	}()

	fmt.Println("listening") // os.Stdout is unbuffered
	for {
		conn, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			log.Print(err) // e.g. out of file descriptors: back off briefly
			time.Sleep(5 * time.Millisecond)
			continue
		}
		go echo(conn)
	}
}

// echo copies the connection onto itself. Go sets TCP_NODELAY on TCP
// connections by default; on Linux io.Copy between TCP sockets uses splice.
func echo(conn net.Conn) {
	defer conn.Close()
	io.Copy(conn, conn)
}

func removeStaleSocket(path string) {
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSocket != 0 {
		os.Remove(path)
	}
}
