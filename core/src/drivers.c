/*
 * drivers.c - which drivers this build has.  Both are always built; the
 * function form is kept so that config.c does not depend on which drivers
 * exist.
 */
#include "driver.h"

/* Defined in driver_aerospike.c. */
extern const cshm_driver_ops cshm_driver_aerospike;

const cshm_driver_ops *cshm_driver_aerospike_ops(void)
{
    return &cshm_driver_aerospike;
}
