package vcsim

import (
	"sync"

	"github.com/vmware/govmomi/vim25/types"
)

// maxDeltaChain is how many delta disks an instant-clone source may gain. An instant clone of
// a running source that is not frozen adds a delta disk to the source; "once this number
// reaches 255, InstantClone operation will start failing" (VMware KB 67186). vCenter refuses
// with TooManySnapshotLevels: "Thrown if the number of levels in the snapshot tree exceeds
// the supported maximum" (vim25 types), the delta chain being that tree's depth.
const maxDeltaChain = 255

// deltaChains counts, per source VM, the delta disks its instant clones added.
type deltaChains struct {
	mu     sync.Mutex
	length map[types.ManagedObjectReference]int
}

func newDeltaChains() *deltaChains {
	return &deltaChains{length: map[types.ManagedObjectReference]int{}}
}

// grow counts one more instant clone of source; a frozen source gains no delta disk (its
// children fork from the frozen state instead). Past the limit the clone fails.
func (d *deltaChains) grow(source types.ManagedObjectReference, frozen bool) types.BaseMethodFault {
	if frozen {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.length[source] >= maxDeltaChain {
		return &types.TooManySnapshotLevels{}
	}
	d.length[source]++
	return nil
}

// Length is the delta chain of an instant-clone source, for tests.
func (d *deltaChains) Length(source types.ManagedObjectReference) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.length[source]
}

// DeltaChain is how many delta disks instant clones added to a source VM.
func (s *Server) DeltaChain(vmID string) int {
	return s.chains.Length(types.ManagedObjectReference{Type: "VirtualMachine", Value: vmID})
}
