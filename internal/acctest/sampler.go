package acctest

import (
	"context"
	"sync"
	"testing"
	"time"
)

// Sampler watches a pool folder while an apply runs and records the most clones it ever saw
// out of service (expected clones that were missing or not powered on).
type Sampler struct {
	cancel  context.CancelFunc
	done    chan struct{}
	mu      sync.Mutex
	worst   int
	samples int
}

// SampleOutOfService starts sampling the clones of the folder called folder, of which want
// should be running. Sampling stops at Stop, or when the test ends at the latest.
func (e *Env) SampleOutOfService(t *testing.T, folder string, want int) *Sampler {
	ctx, cancel := context.WithCancel(context.Background())
	s := &Sampler{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(5 * time.Millisecond):
			}
			folders, err := e.Client.Folders(ctx)
			if err != nil {
				continue
			}
			ids := map[string]bool{}
			for _, f := range folders {
				if f.Name == folder {
					ids[f.ID] = true
				}
			}
			vms, err := e.Client.AllVMs(ctx)
			if err != nil {
				continue
			}
			running := 0
			for _, vm := range vms {
				if ids[vm.Folder] && vm.PoweredOn {
					running++
				}
			}
			s.mu.Lock()
			s.samples++
			s.worst = max(s.worst, want-running)
			s.mu.Unlock()
		}
	}()
	t.Cleanup(func() { s.Stop() })
	return s
}

// Stop ends sampling, waits for the sampling goroutine to end, and returns the most clones
// seen out of service and how many samples were taken. Safe to call more than once.
func (s *Sampler) Stop() (worst, samples int) {
	s.cancel()
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.worst, s.samples
}
