package dev.tweed.lab.service;

/** One member of a lab's etcd cluster as its status reports it. */
public record EtcdMember(String name, String endpoint, boolean healthy, boolean leader) {}
