/* This is a generated file, edit the .stub.php file instead.
 * Stub hash: 75755678ad0c98e3c176f6de58f350d75113a6ec */

ZEND_BEGIN_ARG_WITH_RETURN_OBJ_INFO_EX(arginfo_ClusterShm_connect, 0, 1, ClusterShm\\Client, 0)
	ZEND_ARG_TYPE_INFO(0, url, IS_STRING, 0)
	ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, options, IS_ARRAY, 0, "[]")
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_ClusterShm_aerospike_digest, 0, 2, IS_STRING, 0)
	ZEND_ARG_TYPE_INFO(0, set, IS_STRING, 0)
	ZEND_ARG_TYPE_MASK(0, key, MAY_BE_STRING|MAY_BE_LONG, NULL)
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_ClusterShm_redis_slot, 0, 1, IS_LONG, 0)
	ZEND_ARG_TYPE_INFO(0, key, IS_STRING, 0)
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_INFO_EX(arginfo_class_ClusterShm_Client___construct, 0, 0, 1)
	ZEND_ARG_TYPE_INFO(0, url, IS_STRING, 0)
	ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, options, IS_ARRAY, 0, "[]")
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_class_ClusterShm_Client_connect, 0, 0, IS_VOID, 0)
ZEND_END_ARG_INFO()

#define arginfo_class_ClusterShm_Client_close arginfo_class_ClusterShm_Client_connect

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_class_ClusterShm_Client_route, 0, 1, IS_ARRAY, 0)
	ZEND_ARG_TYPE_MASK(0, key, MAY_BE_STRING|MAY_BE_LONG, NULL)
	ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, namespace, IS_STRING, 1, "null")
	ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, set, IS_STRING, 0, "\"\"")
	ZEND_ARG_TYPE_MASK(0, replica, MAY_BE_LONG|MAY_BE_STRING, "0")
	ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, rackId, IS_LONG, 1, "null")
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_class_ClusterShm_Client_partition, 0, 1, IS_LONG, 0)
	ZEND_ARG_TYPE_MASK(0, key, MAY_BE_STRING|MAY_BE_LONG, NULL)
	ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, namespace, IS_STRING, 1, "null")
	ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, set, IS_STRING, 0, "\"\"")
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_class_ClusterShm_Client_nodes, 0, 0, IS_ARRAY, 0)
ZEND_END_ARG_INFO()

#define arginfo_class_ClusterShm_Client_status arginfo_class_ClusterShm_Client_nodes

#define arginfo_class_ClusterShm_Client_requestRefresh arginfo_class_ClusterShm_Client_connect

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_class_ClusterShm_Client_refresh, 0, 0, _IS_BOOL, 0)
	ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, wait, _IS_BOOL, 0, "true")
	ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, timeout, IS_DOUBLE, 0, "1.0")
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_class_ClusterShm_Client_shards, 0, 0, IS_ARRAY, 0)
	ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, namespace, IS_STRING, 1, "null")
ZEND_END_ARG_INFO()


ZEND_FUNCTION(ClusterShm_connect);
ZEND_FUNCTION(ClusterShm_aerospike_digest);
ZEND_FUNCTION(ClusterShm_redis_slot);
ZEND_METHOD(ClusterShm_Client, __construct);
ZEND_METHOD(ClusterShm_Client, connect);
ZEND_METHOD(ClusterShm_Client, close);
ZEND_METHOD(ClusterShm_Client, route);
ZEND_METHOD(ClusterShm_Client, partition);
ZEND_METHOD(ClusterShm_Client, nodes);
ZEND_METHOD(ClusterShm_Client, status);
ZEND_METHOD(ClusterShm_Client, requestRefresh);
ZEND_METHOD(ClusterShm_Client, refresh);
ZEND_METHOD(ClusterShm_Client, shards);


static const zend_function_entry ext_functions[] = {
	ZEND_NS_FALIAS("ClusterShm", connect, ClusterShm_connect, arginfo_ClusterShm_connect)
	ZEND_NS_FALIAS("ClusterShm", aerospike_digest, ClusterShm_aerospike_digest, arginfo_ClusterShm_aerospike_digest)
	ZEND_NS_FALIAS("ClusterShm", redis_slot, ClusterShm_redis_slot, arginfo_ClusterShm_redis_slot)
	ZEND_FE_END
};


static const zend_function_entry class_ClusterShm_Exception_methods[] = {
	ZEND_FE_END
};


static const zend_function_entry class_ClusterShm_ConfigException_methods[] = {
	ZEND_FE_END
};


static const zend_function_entry class_ClusterShm_ClusterException_methods[] = {
	ZEND_FE_END
};


static const zend_function_entry class_ClusterShm_SegmentException_methods[] = {
	ZEND_FE_END
};


static const zend_function_entry class_ClusterShm_TimeoutException_methods[] = {
	ZEND_FE_END
};


static const zend_function_entry class_ClusterShm_Client_methods[] = {
	ZEND_ME(ClusterShm_Client, __construct, arginfo_class_ClusterShm_Client___construct, ZEND_ACC_PUBLIC)
	ZEND_ME(ClusterShm_Client, connect, arginfo_class_ClusterShm_Client_connect, ZEND_ACC_PUBLIC)
	ZEND_ME(ClusterShm_Client, close, arginfo_class_ClusterShm_Client_close, ZEND_ACC_PUBLIC)
	ZEND_ME(ClusterShm_Client, route, arginfo_class_ClusterShm_Client_route, ZEND_ACC_PUBLIC)
	ZEND_ME(ClusterShm_Client, partition, arginfo_class_ClusterShm_Client_partition, ZEND_ACC_PUBLIC)
	ZEND_ME(ClusterShm_Client, nodes, arginfo_class_ClusterShm_Client_nodes, ZEND_ACC_PUBLIC)
	ZEND_ME(ClusterShm_Client, status, arginfo_class_ClusterShm_Client_status, ZEND_ACC_PUBLIC)
	ZEND_ME(ClusterShm_Client, requestRefresh, arginfo_class_ClusterShm_Client_requestRefresh, ZEND_ACC_PUBLIC)
	ZEND_ME(ClusterShm_Client, refresh, arginfo_class_ClusterShm_Client_refresh, ZEND_ACC_PUBLIC)
	ZEND_ME(ClusterShm_Client, shards, arginfo_class_ClusterShm_Client_shards, ZEND_ACC_PUBLIC)
	ZEND_FE_END
};

static void register_clustershm_symbols(int module_number)
{
	REGISTER_STRING_CONSTANT("ClusterShm\\VERSION", PHP_CLUSTERSHM_VERSION, CONST_PERSISTENT);
}

static zend_class_entry *register_class_ClusterShm_Exception(zend_class_entry *class_entry_RuntimeException)
{
	zend_class_entry ce, *class_entry;

	INIT_NS_CLASS_ENTRY(ce, "ClusterShm", "Exception", class_ClusterShm_Exception_methods);
	class_entry = zend_register_internal_class_ex(&ce, class_entry_RuntimeException);

	return class_entry;
}

static zend_class_entry *register_class_ClusterShm_ConfigException(zend_class_entry *class_entry_ClusterShm_Exception)
{
	zend_class_entry ce, *class_entry;

	INIT_NS_CLASS_ENTRY(ce, "ClusterShm", "ConfigException", class_ClusterShm_ConfigException_methods);
	class_entry = zend_register_internal_class_ex(&ce, class_entry_ClusterShm_Exception);

	return class_entry;
}

static zend_class_entry *register_class_ClusterShm_ClusterException(zend_class_entry *class_entry_ClusterShm_Exception)
{
	zend_class_entry ce, *class_entry;

	INIT_NS_CLASS_ENTRY(ce, "ClusterShm", "ClusterException", class_ClusterShm_ClusterException_methods);
	class_entry = zend_register_internal_class_ex(&ce, class_entry_ClusterShm_Exception);

	return class_entry;
}

static zend_class_entry *register_class_ClusterShm_SegmentException(zend_class_entry *class_entry_ClusterShm_Exception)
{
	zend_class_entry ce, *class_entry;

	INIT_NS_CLASS_ENTRY(ce, "ClusterShm", "SegmentException", class_ClusterShm_SegmentException_methods);
	class_entry = zend_register_internal_class_ex(&ce, class_entry_ClusterShm_Exception);

	return class_entry;
}

static zend_class_entry *register_class_ClusterShm_TimeoutException(zend_class_entry *class_entry_ClusterShm_Exception)
{
	zend_class_entry ce, *class_entry;

	INIT_NS_CLASS_ENTRY(ce, "ClusterShm", "TimeoutException", class_ClusterShm_TimeoutException_methods);
	class_entry = zend_register_internal_class_ex(&ce, class_entry_ClusterShm_Exception);

	return class_entry;
}

static zend_class_entry *register_class_ClusterShm_Client(void)
{
	zend_class_entry ce, *class_entry;

	INIT_NS_CLASS_ENTRY(ce, "ClusterShm", "Client", class_ClusterShm_Client_methods);
	class_entry = zend_register_internal_class_ex(&ce, NULL);
	class_entry->ce_flags |= ZEND_ACC_NOT_SERIALIZABLE;

	return class_entry;
}
