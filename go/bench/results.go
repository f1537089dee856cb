package bench

import (
	"bufio"
	"encoding/json"
	"os"
	"runtime"
	"strings"
	"time"
)

// Results is what cmd/peerbench writes (as JSON) and cmd/benchreport reads.
type Results struct {
	Started   time.Time `json:"started"`
	Seconds   float64   `json:"seconds"`
	GoVersion string    `json:"go_version"`
	Machine   Machine   `json:"machine"`
	Keys      int       `json:"keys"`
	ValueSize int       `json:"value_size"`
	Reads     int       `json:"reads"`
	Scans     int       `json:"scans"`
	// FullScans is how many times scanall read the whole database (0 in results from before
	// it existed).
	FullScans int `json:"full_scans,omitempty"`
	MixOps    int `json:"mix_ops"`
	SyncOps   int `json:"sync_ops"`
	// TxnOps and TxnHotKeys are txnrmw's transactions and the counters they pick from (0 in
	// results from before it existed).
	TxnOps     int `json:"txn_ops,omitempty"`
	TxnHotKeys int `json:"txn_hot_keys,omitempty"`
	// RWWWrites and RWWReaders are readwhilewriting's writer Puts and reader goroutines (0 in
	// results from before it existed).
	RWWWrites  int `json:"rww_writes,omitempty"`
	RWWReaders int `json:"rww_readers,omitempty"`
	// Busy is the number of busy processes each row's Loaded measurement ran beside (0: rows
	// were measured quiet only).
	Busy int `json:"busy,omitempty"`
	// Settings maps each engine's name to how it was configured.
	Settings map[string]string `json:"settings"`
	Rows     []Row             `json:"rows"`
}

// NewResults describes a run of cfg on this machine, before it starts.
func NewResults(cfg Config) *Results {
	r := &Results{
		Started:    time.Now().UTC(),
		GoVersion:  runtime.Version(),
		Machine:    ThisMachine(),
		Keys:       cfg.Keys,
		ValueSize:  cfg.ValueSize,
		Reads:      cfg.Reads,
		Scans:      cfg.Scans,
		FullScans:  cfg.FullScans,
		MixOps:     cfg.MixOps,
		SyncOps:    cfg.SyncOps,
		TxnOps:     cfg.TxnOps,
		TxnHotKeys: cfg.TxnHotKeys,
		RWWWrites:  cfg.RWWWrites,
		RWWReaders: cfg.RWWReaders,
		Busy:       cfg.Busy,
		Settings:   map[string]string{},
	}
	for _, e := range cfg.Engines {
		r.Settings[e.Name] = e.Settings
	}
	return r
}

// ReadResults reads a file cmd/peerbench wrote.
func ReadResults(path string) (*Results, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Results
	return &r, json.Unmarshal(data, &r)
}

// Machine is what the report says about the machine a run had.
type Machine struct {
	CPU         string `json:"cpu"`
	Cores       int    `json:"cores"`
	GOMAXPROCS  int    `json:"gomaxprocs"`
	MemoryBytes int64  `json:"memory_bytes"`
	Kernel      string `json:"kernel"`
}

// ThisMachine reads the CPU model, core count, memory and kernel of this machine (Linux; the
// fields it cannot read stay empty).
func ThisMachine() Machine {
	m := Machine{Cores: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0)}
	m.CPU = procField("/proc/cpuinfo", "model name")
	if mem := procField("/proc/meminfo", "MemTotal"); mem != "" {
		var kb int64
		for _, c := range strings.TrimSuffix(mem, " kB") {
			if c >= '0' && c <= '9' {
				kb = kb*10 + int64(c-'0')
			}
		}
		m.MemoryBytes = kb << 10
	}
	if release, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(release))
	}
	return m
}

// procField returns the value of the first "name: value" line of a /proc file.
func procField(path, name string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, value, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(key) == name {
			return strings.TrimSpace(value)
		}
	}
	return ""
}
