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
	stop    chan struct{}
	done    sync.WaitGroup
	mu      sync.Mutex
	worst   int
	samples int
}

// SampleOutOfService starts sampling the clones of the folder called folder, of which want
// should be running.
func (e *Env) SampleOutOfService(t *testing.T, folder string, want int) *Sampler {
	s := &Sampler{stop: make(chan struct{})}
	s.done.Add(1)
	go func() {
		defer s.done.Done()
		for {
			select {
			case <-s.stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			folders, err := e.Client.AllFolders(context.Background())
			if err != nil {
				continue
			}
			ids := map[string]bool{}
			for _, f := range folders {
				if f.Name == folder {
					ids[f.ID] = true
				}
			}
			vms, err := e.Client.AllVMs(context.Background())
			if err != nil {
				continue
			}
			running := 0
			for _, vm := range vms {
				if ids[vm.Parent] && vm.PoweredOn {
					running++
				}
			}
			s.mu.Lock()
			s.samples++
			s.worst = max(s.worst, want-running)
			s.mu.Unlock()
		}
	}()
	return s
}

// Stop ends sampling and returns the most clones seen out of service and how many samples
// were taken.
func (s *Sampler) Stop() (worst, samples int) {
	close(s.stop)
	s.done.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.worst, s.samples
}
