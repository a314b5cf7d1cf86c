// Command verifylog checks a tiled log that certhub wrote, with Go's own
// golang.org/x/mod/sumdb/note and tlog rather than certhub's code: the
// checkpoint's signature, the root from the tiles, every entry's inclusion
// proof, a consistency proof from an earlier checkpoint, and the witnesses'
// cosignatures (C2SP tlog-cosignature, checked here with crypto/ed25519).
//
// Usage: verifylog <log dir> <log vkey> <earlier checkpoint file> [witness vkey...]
// The log dir is laid out as C2SP tlog-tiles: checkpoint, tile/<L>/<N>[.p/<W>],
// tile/entries/<N>[.p/<W>]. Prints "OK size=<n> cosigned=<k>" or exits 1.
package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

const tileHeight = 8

func main() {
	if len(os.Args) < 4 {
		fail(errors.New("usage: verifylog <log dir> <log vkey> <earlier checkpoint> [witness vkey...]"))
	}
	dir, vkey, earlierPath := os.Args[1], os.Args[2], os.Args[3]
	verifier, err := note.NewVerifier(vkey)
	check(err)
	latest, tree := openCheckpoint(filepath.Join(dir, "checkpoint"), verifier)
	_, earlier := openCheckpoint(earlierPath, verifier)

	reader := tlog.TileHashReader(tree, tileFiles{dir})
	root, err := tlog.TreeHash(tree.N, reader)
	check(err)
	if root != tree.Hash {
		fail(fmt.Errorf("root from the tiles %v is not the checkpoint's %v", root, tree.Hash))
	}
	for index, entry := range readEntries(dir, tree.N) {
		proof, err := tlog.ProveRecord(tree.N, int64(index), reader)
		check(err)
		check(tlog.CheckRecord(proof, tree.N, tree.Hash, int64(index), tlog.RecordHash(entry)))
	}
	consistency, err := tlog.ProveTree(tree.N, earlier.N, reader)
	check(err)
	check(tlog.CheckTree(consistency, tree.N, tree.Hash, earlier.N, earlier.Hash))

	cosigned := 0
	for _, witness := range os.Args[4:] {
		if !cosignedBy(latest, witness) {
			fail(fmt.Errorf("no valid cosignature by %s", witness))
		}
		cosigned++
	}
	fmt.Printf("OK size=%d cosigned=%d\n", tree.N, cosigned)
}

// openCheckpoint verifies a C2SP checkpoint note and parses origin, size and root.
func openCheckpoint(path string, verifier note.Verifier) (*note.Note, tlog.Tree) {
	data, err := os.ReadFile(path)
	check(err)
	// Unknown keys (the witnesses') are left in UnverifiedSigs.
	n, err := note.Open(data, note.VerifierList(verifier))
	check(err)
	lines := strings.Split(strings.TrimSuffix(n.Text, "\n"), "\n")
	if len(lines) < 3 {
		fail(errors.New("checkpoint has fewer than three lines"))
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	check(err)
	hash, err := tlog.ParseHash(lines[2])
	check(err)
	return n, tlog.Tree{N: size, Hash: hash}
}

// tileFiles reads tiles from the C2SP layout: Go's tile paths carry the
// height ("tile/8/0/000"), C2SP's do not ("tile/0/000").
type tileFiles struct{ dir string }

func (t tileFiles) Height() int { return tileHeight }

func (t tileFiles) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, tile := range tiles {
		path := strings.Replace(tile.Path(), fmt.Sprintf("tile/%d/", tileHeight), "tile/", 1)
		data, err := os.ReadFile(filepath.Join(t.dir, filepath.FromSlash(path)))
		if err != nil {
			return nil, err
		}
		out[i] = data
	}
	return out, nil
}

func (t tileFiles) SaveTiles([]tlog.Tile, [][]byte) {}

// readEntries reads every entry bundle: 16-bit big-endian length, then the entry.
func readEntries(dir string, size int64) [][]byte {
	var entries [][]byte
	for start := int64(0); start < size; start += 256 {
		width := size - start
		name := tlog.Tile{H: tileHeight, L: -1, N: start / 256, W: 256}.Path()
		if width < 256 {
			name = tlog.Tile{H: tileHeight, L: -1, N: start / 256, W: int(width)}.Path()
		}
		path := strings.Replace(name, fmt.Sprintf("tile/%d/data/", tileHeight), "tile/entries/", 1)
		data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(path)))
		check(err)
		for len(data) > 0 {
			if len(data) < 2 {
				fail(errors.New("truncated entry bundle"))
			}
			length := int(binary.BigEndian.Uint16(data))
			if len(data) < 2+length {
				fail(errors.New("truncated entry"))
			}
			entries = append(entries, data[2:2+length])
			data = data[2+length:]
		}
	}
	if int64(len(entries)) != size {
		fail(fmt.Errorf("%d entries in the bundles, checkpoint size %d", len(entries), size))
	}
	return entries
}

// cosignedBy checks a cosignature/v1 line (key type 0x04): key ID is
// SHA-256(name || "\n" || 0x04 || key)[:4]; the signature is an 8-byte
// timestamp then Ed25519 over "cosignature/v1\ntime <t>\n" || note text.
func cosignedBy(n *note.Note, vkey string) bool {
	parts := strings.SplitN(vkey, "+", 3)
	if len(parts) != 3 {
		fail(errors.New("witness vkey is <name>+<id>+<key>"))
	}
	name := parts[0]
	key, err := base64.StdEncoding.DecodeString(parts[2])
	check(err)
	if len(key) != 33 || key[0] != 0x04 {
		fail(errors.New("witness vkey is not an Ed25519 cosignature/v1 key"))
	}
	digest := sha256.Sum256(append([]byte(name+"\n"), key...))
	for _, sig := range n.UnverifiedSigs {
		raw, err := base64.StdEncoding.DecodeString(sig.Base64)
		if err != nil || sig.Name != name || len(raw) != 4+8+64 || !bytes.Equal(raw[:4], digest[:4]) {
			continue
		}
		timestamp := binary.BigEndian.Uint64(raw[4:12])
		message := fmt.Sprintf("cosignature/v1\ntime %d\n%s", timestamp, n.Text)
		if ed25519.Verify(ed25519.PublicKey(key[1:]), []byte(message), raw[12:]) {
			return true
		}
	}
	return false
}

func check(err error) {
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "FAILED:", err)
	os.Exit(1)
}
