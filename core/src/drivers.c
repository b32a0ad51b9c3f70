/*
 * drivers.c - which drivers this build has.  The Aerospike driver is not
 * written yet (issue 5): until it is, aerospike:// URLs are refused with a
 * clear error by config.c instead of half-working.
 */
#include "driver.h"

const cshm_driver_ops *cshm_driver_aerospike_ops(void)
{
    return NULL;
}
