/**
 * Block IPAM: nodes claim blocks of the pod CIDR, pods get addresses from their node's blocks.
 * Claims are compare-and-swap writes to the datastore, so concurrent claimants never collide.
 */
package dev.tweed.ipam;
