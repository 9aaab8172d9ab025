namespace FastDfs.Protocol.Tests.Config;

/// <summary>
/// Key/value lines of the sample configs shipped with FastDFS (comments shortened). The 6.16 files follow the
/// values listed in the protocol notes section 10; the "Legacy" ones are the older samples (V5/V6.0x era) as
/// published in the FastDFS repository.
/// </summary>
internal static class SampleConfigs
{
    public const string Tracker616 = """
        # is this config file disabled
        disabled = false

        # bind an address of this host, empty for all
        bind_addr =

        # the tracker server port
        port = 22122

        # IPv4 / IPv6 / auto / both
        address_family = auto

        # connect timeout in seconds
        connect_timeout = 5

        # network timeout in seconds
        network_timeout = 60

        # the base path to store data and log files
        base_path = /opt/fastdfs

        max_connections = 1024
        accept_threads = 1
        work_threads = 4
        min_buff_size = 8KB
        max_buff_size = 128KB

        # 0: round robin, 1: specify group, 2: load balance
        store_lookup = 2
        store_group = group2
        store_server = 0
        store_path = 0
        download_server = 0

        ### XX.XX% as ratio such as reserved_storage_space = 10%
        reserved_storage_space = 20%

        log_level = info
        run_by_group=
        run_by_user =

        # allow_hosts=10.0.1.[1-15,20]
        # allow_hosts=192.168.5.64/26
        allow_hosts = *

        sync_log_buff_interval = 1
        check_active_interval = 120
        thread_stack_size = 256KB
        storage_ip_changed_auto_adjust = true
        storage_sync_file_max_delay = 86400
        storage_sync_file_max_time = 300

        use_trunk_file = false
        slot_min_size = 256
        slot_max_size = 1MB
        trunk_alloc_alignment_size = 256
        trunk_free_space_merge = true
        delete_unused_trunk_files = false
        trunk_file_size = 64MB
        trunk_create_file_advance = false
        trunk_create_file_time_base = 02:00
        trunk_create_file_interval = 86400
        trunk_create_file_space_threshold = 20G
        trunk_init_check_occupying = false
        trunk_init_reload_from_binlog = false
        trunk_compress_binlog_min_interval = 86400
        trunk_compress_binlog_interval = 86400
        trunk_compress_binlog_time_base = 03:00
        trunk_binlog_max_backups = 7

        use_storage_id = false
        storage_ids_filename = storage_ids.conf
        id_type_in_filename = id
        trust_storage_server_id = true
        response_ip_addr_size = auto
        store_slave_file_use_link = false

        rotate_error_log = false
        error_log_rotate_time = 00:00
        compress_old_error_log = false
        compress_error_log_days_before = 7
        rotate_error_log_size = 0
        log_file_keep_days = 0

        use_connection_pool = true
        connection_pool_max_idle_time = 3600

        use_io_uring = false
        use_send_zc = true
        """;

    public const string TrackerLegacy = """
        # is this config file disabled
        # false for enabled
        # true for disabled
        disabled=false

        # bind an address of this host
        bind_addr=

        # the tracker server port
        port=22122

        # connect timeout in seconds
        connect_timeout=30

        # network timeout in seconds
        network_timeout=60

        # the base path to store data and log files
        base_path=/home/yuqing/fastdfs

        max_connections=256
        accept_threads=1
        work_threads=4
        min_buff_size = 8KB
        max_buff_size = 128KB
        store_lookup=2
        store_group=group2
        store_server=0
        store_path=0
        download_server=0

        ### G or g for gigabyte(GB)
        reserved_storage_space = 10%

        log_level=info
        run_by_group=
        run_by_user=
        allow_hosts=*
        sync_log_buff_interval = 10
        check_active_interval = 120
        thread_stack_size = 64KB
        storage_ip_changed_auto_adjust = true
        storage_sync_file_max_delay = 86400
        storage_sync_file_max_time = 300
        use_trunk_file = false
        slot_min_size = 256
        slot_max_size = 16MB
        trunk_file_size = 64MB
        trunk_create_file_advance = false
        trunk_create_file_time_base = 02:00
        trunk_create_file_interval = 86400
        trunk_create_file_space_threshold = 20G
        trunk_init_check_occupying = false
        trunk_init_reload_from_binlog = false
        trunk_compress_binlog_min_interval = 0
        use_storage_id = false
        storage_ids_filename = storage_ids.conf
        id_type_in_filename = ip
        store_slave_file_use_link = false
        rotate_error_log = false
        error_log_rotate_time=00:00
        rotate_error_log_size = 0
        log_file_keep_days = 0
        use_connection_pool = false
        connection_pool_max_idle_time = 3600

        # HTTP port on this tracker server
        http.server_port=8080
        http.check_alive_interval=30
        http.check_alive_type=tcp
        http.check_alive_uri=/status.html
        """;

    public const string Storage616 = """
        disabled = false

        # comment or remove this item for fetching from tracker server
        group_name = group1

        bind_addr =
        client_bind = true
        port = 23000
        address_family = auto

        # specify the storage server ID for NAT network
        #server_id =

        connect_timeout = 5
        network_timeout = 60
        heart_beat_interval = 30
        stat_report_interval = 60
        base_path = /opt/fastdfs
        max_connections = 1024
        buff_size = 256KB
        accept_threads = 1
        work_threads = 4
        disk_rw_separated = true
        disk_reader_threads = 2
        disk_writer_threads = 1
        sync_min_threads = 1
        sync_max_threads = auto
        sync_wait_msec = 10
        sync_interval = 0
        sync_start_time = 00:00
        sync_end_time = 23:59
        write_mark_file_freq = 500
        disk_recovery_threads = 4

        store_path_count = 1
        store_path0 = /opt/fastdfs
        #store_path1 = /opt/fastdfs2
        #store_path0_readonly = false

        subdir_count_per_path = 256

        #   IPv6:
        #    for example: [2409:8a20:42d:2f40:587a:4c47:72c0:ad8e,fe80::1ee9:90a8:1351:436c]:22122
        tracker_server = 192.168.209.121:22122
        tracker_server = 192.168.209.122:22122

        log_level = info
        run_by_group =
        run_by_user =
        allow_hosts = *
        file_distribute_path_mode = 0
        file_distribute_rotate_count = 100
        fsync_after_written_bytes = 0
        sync_log_buff_interval = 1
        sync_binlog_buff_interval = 1
        sync_stat_file_interval = 60
        thread_stack_size = 512KB
        upload_priority = 10
        if_alias_prefix =
        check_file_duplicate = 0
        file_signature_method = hash
        key_namespace = FastDFS
        keep_alive = 0

        # use "#include filename" (not include double quotes) directive to
        # load FastDHT server list
        ##include /home/yuqing/fastdht/conf/fdht_servers.conf

        rotate_access_log = false
        access_log_rotate_time = 00:00
        compress_old_access_log = false
        compress_access_log_days_before = 7
        rotate_error_log = false
        error_log_rotate_time = 00:00
        compress_old_error_log = false
        compress_error_log_days_before = 7
        rotate_access_log_size = 0
        rotate_error_log_size = 0
        log_file_keep_days = 0
        file_sync_skip_invalid_record = false
        use_connection_pool = true
        connection_pool_max_idle_time = 3600
        compress_binlog = true
        compress_binlog_time = 01:30
        check_store_path_mark = true

        [access-log]
        enabled = false
        """;

    public const string StorageLegacy = """
        disabled = false
        group_name = group1
        bind_addr =
        client_bind = true
        port = 23000
        address_family = auto
        #server_id =
        connect_timeout = 5
        network_timeout = 60
        heart_beat_interval = 30
        stat_report_interval = 60
        base_path = /opt/fastdfs
        max_connections = 1024
        buff_size = 256KB
        accept_threads = 1
        work_threads = 4
        disk_rw_separated = true
        disk_reader_threads = 1
        disk_writer_threads = 1
        sync_wait_msec = 50
        sync_interval = 0
        sync_start_time = 00:00
        sync_end_time = 23:59
        write_mark_file_freq = 500
        disk_recovery_threads = 3
        store_path_count = 1
        store_path0 = /opt/fastdfs
        #store_path1 = /opt/fastdfs2
        #store_path0_readonly = false
        subdir_count_per_path = 256
        tracker_server = 192.168.209.121:22122
        tracker_server = 192.168.209.122:22122
        log_level = info
        run_by_group =
        run_by_user =
        allow_hosts = *
        file_distribute_path_mode = 0
        file_distribute_rotate_count = 100
        fsync_after_written_bytes = 0
        sync_log_buff_interval = 1
        sync_binlog_buff_interval = 1
        sync_stat_file_interval = 300
        thread_stack_size = 512KB
        upload_priority = 10
        if_alias_prefix =
        check_file_duplicate = 0
        file_signature_method = hash
        key_namespace = FastDFS
        keep_alive = 0
        ##include /home/yuqing/fastdht/conf/fdht_servers.conf
        use_access_log = false
        rotate_access_log = false
        access_log_rotate_time = 00:00
        compress_old_access_log = false
        compress_access_log_days_before = 7
        rotate_error_log = false
        error_log_rotate_time = 00:00
        compress_old_error_log = false
        compress_error_log_days_before = 7
        rotate_access_log_size = 0
        rotate_error_log_size = 0
        log_file_keep_days = 0
        file_sync_skip_invalid_record = false
        use_connection_pool = true
        connection_pool_max_idle_time = 3600
        compress_binlog = true
        compress_binlog_time = 01:30
        check_store_path_mark = true
        http.domain_name =
        http.server_port = 8888
        """;

    public const string Client616 = """
        # connect timeout in seconds
        connect_timeout = 5

        # network timeout in seconds
        network_timeout = 60

        # the base path to store log files
        base_path = /opt/fastdfs

        # HOST:PORT, HOST may be dual IPs: 192.168.2.100,122.244.141.46:22122
        tracker_server = 192.168.0.196:22122
        tracker_server = 192.168.0.197:22122

        log_level = info

        # tracker or last-connected
        connect_first_by = tracker

        use_connection_pool = false
        connection_pool_max_idle_time = 3600
        load_fdfs_parameters_from_tracker = false
        use_storage_id = false
        storage_ids_filename = storage_ids.conf

        #HTTP settings
        http.tracker_server_port = 80

        #use "#include" directive to include HTTP other settiongs
        ##include http.conf
        """;
}
