/*
 * test_ports.h - loopback ports for the C tests: one where nothing listens.
 */
#ifndef CSHM_TEST_PORTS_H
#define CSHM_TEST_PORTS_H

#include <stdint.h>

/* A port on 127.0.0.1 where nothing listens: bound, then released, so the
 * kernel answers a connect with a refusal (0 when no port could be had). */
uint16_t test_closed_port(void);

#endif
