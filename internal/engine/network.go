package engine

import (
	"context"
	"errors"
	"fmt"
)

// checkNetworks checks a pool's network_ids and customization against vCenter and the image:
// each network must exist, and the image's VMs must have a NIC for each network and each
// network_interface (clones get no NIC their parent lacks: the InstantClone spec may only
// edit network cards).
func (e *Engine) checkNetworks(ctx context.Context, img *Image, spec PoolSpec) error {
	networks := spec.Networks
	interfaces := 0
	if spec.Customization != nil {
		interfaces = len(spec.Customization.Interfaces)
	}
	if len(networks) == 0 && interfaces == 0 {
		return nil
	}
	nics, err := e.vc.NICs(ctx, img.TemplateVMID)
	if err != nil {
		return fmt.Errorf("reading the network cards of image %s: %w", img.ID, err)
	}
	if interfaces > len(nics) {
		return inputError("customization", "More network interfaces than network cards", "customization has %d network_interface block(s), but the VMs of image %s have %d network card(s); give one per card, in order.", interfaces, img.ID, len(nics))
	}
	if len(networks) > len(nics) {
		return inputError("network_ids", "More networks than network cards", "network_ids names %d networks, but the VMs of image %s have %d network card(s); give one network per card, in order.", len(networks), img.ID, len(nics))
	}
	for i, id := range networks {
		if _, err := e.vc.Network(ctx, id); err != nil {
			if errors.Is(err, ErrNotFound) {
				return inputError("network_ids", "Network not found", "network_ids[%d]: no network or distributed port group has ID %q; use a managed object ID such as network-12 or dvportgroup-34 (data.vsphere_network.x.id).", i, id)
			}
			return fmt.Errorf("reading network %s: %w", id, err)
		}
	}
	return nil
}
