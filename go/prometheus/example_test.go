package strataprom_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/prometheus/client_golang/prometheus"
	strataprom "github.com/strata-db/strata/go/prometheus"
	"github.com/strata-db/strata/go/strata"
)

func ExampleNewCollector() {
	dir, _ := os.MkdirTemp("", "strataprom-example")
	defer os.RemoveAll(dir)
	db, err := strata.Open(dir, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	reg := prometheus.NewRegistry()
	reg.MustRegister(strataprom.NewCollector(db))
	// A server would now serve reg: http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{})).

	ctx := context.Background()
	for _, k := range []string{"a", "b", "c"} {
		if err := db.Put(ctx, []byte(k), []byte("v")); err != nil {
			log.Fatal(err)
		}
	}
	families, err := reg.Gather()
	if err != nil {
		log.Fatal(err)
	}
	for _, f := range families {
		switch f.GetName() {
		case "strata_write_batches_total", "strata_level_tables":
			for _, m := range f.GetMetric() {
				series := f.GetName()
				for _, l := range m.GetLabel() {
					series += fmt.Sprintf("{%s=%q}", l.GetName(), l.GetValue())
				}
				fmt.Println(series, m.GetCounter().GetValue()+m.GetGauge().GetValue())
			}
		}
	}
	// Output:
	// strata_level_tables{level="0"} 0
	// strata_level_tables{level="1"} 0
	// strata_level_tables{level="2"} 0
	// strata_level_tables{level="3"} 0
	// strata_level_tables{level="4"} 0
	// strata_level_tables{level="5"} 0
	// strata_level_tables{level="6"} 0
	// strata_write_batches_total 3
}
