# scripts/package/install.cmake - install layout and Debian packages (CPack).
# Included at the end of the top-level CMakeLists.txt.
#   cmake --install BUILD [--prefix /usr]   binaries, man pages, web assets under
#       the prefix; configs in /etc, units in /lib/systemd/system (DESTDIR honoured)
#   (cd BUILD && cpack -G DEB)             anycast-agent_*.deb, anycast-collector_*.deb
# Components: agent, collector. Packaging scripts live beside this file.
include(GNUInstallDirs)

set(ANYCAST_SYSCONFDIR "/etc" CACHE PATH "where /etc/anycast and /etc/default go")
set(ANYCAST_UNITDIR "/lib/systemd/system" CACHE PATH "systemd system unit directory")
set(ANYCAST_STATEDIR "/var/lib/anycast" CACHE PATH "state: database, spool")
set(pkg_dir ${CMAKE_SOURCE_DIR}/scripts/package)

# No data-dir define needed: the collector finds its dashboard at
# BINDIR/../share/anycast/web by itself (collector/collector.c).

install(TARGETS anycast-agent RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT agent)
install(TARGETS anycast-collector RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  COMPONENT collector)
install(PROGRAMS ${pkg_dir}/anycast-agent-enroll DESTINATION ${CMAKE_INSTALL_SBINDIR}
  COMPONENT agent)

# Man pages (roff sources kept beside the code they document).
install(FILES ${CMAKE_SOURCE_DIR}/agent/anycast-agent.8
  DESTINATION ${CMAKE_INSTALL_MANDIR}/man8 COMPONENT agent)
install(FILES ${CMAKE_SOURCE_DIR}/collector/anycast-collector.8
  DESTINATION ${CMAKE_INSTALL_MANDIR}/man8 COMPONENT collector)
install(FILES ${CMAKE_SOURCE_DIR}/common/anycast-inventory.5
  DESTINATION ${CMAKE_INSTALL_MANDIR}/man5 COMPONENT collector)
install(FILES ${pkg_dir}/anycast-agent-enroll.8
  DESTINATION ${CMAKE_INSTALL_MANDIR}/man8 COMPONENT agent)
# Compressed as Debian ships man pages (gzip -n: reproducible).
foreach(page agent:man8/anycast-agent.8 agent:man8/anycast-agent-enroll.8
    collector:man8/anycast-collector.8 collector:man5/anycast-inventory.5)
  string(REPLACE ":" ";" page ${page})
  list(GET page 0 comp)
  list(GET page 1 file)
  install(CODE "
    set(f \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_MANDIR}/${file}\")
    file(REMOVE \"\${f}.gz\")
    execute_process(COMMAND gzip -9n \"\${f}\" RESULT_VARIABLE rc)
    if(NOT rc EQUAL 0)
      message(FATAL_ERROR \"gzip \${f} failed\")
    endif()
  " COMPONENT ${comp})
endforeach()

# Dashboard: web/*.html|js|css and web/vendor/ (filled by web/build.sh).
if(NOT EXISTS ${CMAKE_SOURCE_DIR}/web/vendor/uPlot.iife.min.js)
  message(WARNING "web/vendor/ is empty: run web/build.sh before installing, "
    "or the dashboard has no charts")
endif()
install(DIRECTORY ${CMAKE_SOURCE_DIR}/web/ DESTINATION ${CMAKE_INSTALL_DATADIR}/anycast/web
  COMPONENT collector
  FILES_MATCHING PATTERN "*.html" PATTERN "*.js" PATTERN "*.css" PATTERN "*.LICENSE"
  PATTERN "node_modules" EXCLUDE)
install(DIRECTORY ${CMAKE_SOURCE_DIR}/schema/ DESTINATION ${CMAKE_INSTALL_DATADIR}/anycast/schema
  COMPONENT collector FILES_MATCHING PATTERN "*.sql")

# Configuration: conffiles of the packages.
install(FILES ${pkg_dir}/examples/inventory.yaml
  DESTINATION ${ANYCAST_SYSCONFDIR}/anycast COMPONENT collector)
install(FILES ${pkg_dir}/examples/anycast-collector.default
  DESTINATION ${ANYCAST_SYSCONFDIR}/default RENAME anycast-collector COMPONENT collector)
install(FILES ${pkg_dir}/examples/anycast-agent.default
  DESTINATION ${ANYCAST_SYSCONFDIR}/default RENAME anycast-agent COMPONENT agent)
install(FILES ${pkg_dir}/examples/agent.yaml ${pkg_dir}/examples/inventory.yaml
  ${CMAKE_SOURCE_DIR}/examples/guard-bird.conf ${CMAKE_SOURCE_DIR}/examples/guard-address.conf
  DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/anycast-agent/examples COMPONENT agent)
install(FILES ${CMAKE_SOURCE_DIR}/examples/prometheus.yml ${CMAKE_SOURCE_DIR}/examples/prometheus-rules.yml
  DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/anycast-collector/examples COMPONENT collector)
# Debian's per-package documents: the machine-readable copyright (the
# collector's also covers the bundled uPlot) and the changelog, which a native
# package ships as changelog.gz (gzip -9n: reproducible).
foreach(comp agent collector)
  set(doc ${CMAKE_INSTALL_DATADIR}/doc/anycast-${comp})
  install(FILES ${pkg_dir}/copyright.${comp} DESTINATION ${doc} RENAME copyright
    COMPONENT ${comp})
  install(FILES ${pkg_dir}/changelog DESTINATION ${doc} COMPONENT ${comp})
  install(CODE "
    set(f \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${doc}/changelog\")
    file(REMOVE \"\${f}.gz\")
    execute_process(COMMAND gzip -9n \"\${f}\" RESULT_VARIABLE rc)
    if(NOT rc EQUAL 0)
      message(FATAL_ERROR \"gzip \${f} failed\")
    endif()
  " COMPONENT ${comp})
endforeach()
install(DIRECTORY DESTINATION ${ANYCAST_STATEDIR} COMPONENT agent)
install(DIRECTORY DESTINATION ${ANYCAST_STATEDIR} COMPONENT collector)

# systemd units: ExecStart names BINDIR as installed (/usr/bin in the packages).
# The agent package also carries anycast-guard.service (the same binary in
# --guard mode, installed disabled).
foreach(pair agent:agent collector:collector agent:guard)
  string(REPLACE ":" ";" pair "${pair}")
  list(GET pair 0 comp)
  list(GET pair 1 uname)
  set(unit ${CMAKE_SOURCE_DIR}/${comp}/anycast-${uname}.service)
  install(CODE "
    file(READ \"${unit}\" u)
    string(REPLACE \"/usr/bin/\" \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}/\" u \"\${u}\")
    set(dst \"\$ENV{DESTDIR}${ANYCAST_UNITDIR}\")
    file(MAKE_DIRECTORY \"\${dst}\")
    message(STATUS \"Installing: \${dst}/anycast-${uname}.service\")
    file(WRITE \"\${dst}/anycast-${uname}.service\" \"\${u}\")
  " COMPONENT ${comp})
endforeach()

# Debian packages: one per component, maintainer scripts from templates.
foreach(comp agent collector)
  string(TOUPPER ${comp} COMP)
  set(PKG anycast-${comp})
  set(UNIT anycast-${comp}.service)
  if(comp STREQUAL "agent")
    set(PURGE "${ANYCAST_STATEDIR}/spool ${ANYCAST_SYSCONFDIR}/anycast/agent.token")
  else()
    set(PURGE "")  # the database stays: remove ${ANYCAST_STATEDIR} yourself
  endif()
  set(ctl ${CMAKE_BINARY_DIR}/debian/${comp})
  foreach(script postinst prerm postrm)
    configure_file(${pkg_dir}/${script}.in ${ctl}/${script} @ONLY
      FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE
      WORLD_READ WORLD_EXECUTE)
  endforeach()
  configure_file(${pkg_dir}/${comp}.conffiles ${ctl}/conffiles COPYONLY)
  set(CPACK_DEBIAN_${COMP}_PACKAGE_CONTROL_EXTRA
    "${ctl}/conffiles;${ctl}/postinst;${ctl}/prerm;${ctl}/postrm")
  set(CPACK_DEBIAN_${COMP}_PACKAGE_NAME ${PKG})
  set(CPACK_DEBIAN_${COMP}_PACKAGE_SECTION net)
endforeach()
set(CPACK_DEBIAN_AGENT_DESCRIPTION "anycast reachability monitor: branch agent
anycast-agent probes DNS and NTP anycast addresses and each instance's
management address and works out which instance answered. It reports to
anycast-collector and takes its probe list from it.")
set(CPACK_DEBIAN_COLLECTOR_DESCRIPTION "anycast reachability monitor: collector
anycast-collector ingests agent results over HTTP into SQLite, tracks each
branch's catchment, raises events and alerts, and serves a JSON API,
Prometheus metrics and a web dashboard.")
set(CPACK_COMPONENT_AGENT_DESCRIPTION "${CPACK_DEBIAN_AGENT_DESCRIPTION}")
set(CPACK_COMPONENT_COLLECTOR_DESCRIPTION "${CPACK_DEBIAN_COLLECTOR_DESCRIPTION}")
set(CPACK_DEBIAN_AGENT_PACKAGE_RECOMMENDS "ca-certificates")
set(CPACK_DEBIAN_COLLECTOR_PACKAGE_RECOMMENDS "ca-certificates")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME anycast-monitor)
set(CPACK_PACKAGE_VENDOR "anycast-monitor")
set(CPACK_PACKAGE_CONTACT
  "anycast-monitor maintainers <maintainers@users.noreply.r-seed-c07c77a5.example>")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_COMPONENTS_ALL agent collector)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "passwd")
# The agent opens libcurl at run time (central mode only, agent/curl_dl.c), so
# dpkg-shlibdeps cannot see it: name it. 7.85.0 for CURLOPT_PROTOCOLS_STR.
set(CPACK_DEBIAN_AGENT_PACKAGE_DEPENDS "passwd, libcurl4 (>= 7.85.0)")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
