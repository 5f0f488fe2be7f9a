# Run at install time (install(SCRIPT)): fill the unit's and the logrotate
# snippet's paths from the prefix given to cmake --install, not the one
# configured, so --prefix P gives a unit that runs P/sbin/wsd.
# In: WSD_SRC_DIR, WSD_OUT_DIR, WSD_SBINDIR, WSD_BINDIR, WSD_SYSCONFDIR.
foreach(v SBINDIR BINDIR SYSCONFDIR)
  if(IS_ABSOLUTE "${WSD_${v}}")
    set(WSD_FULL_${v} "${WSD_${v}}")
  else()
    set(WSD_FULL_${v} "${CMAKE_INSTALL_PREFIX}/${WSD_${v}}")
  endif()
endforeach()
set(WSD_SBIN "${WSD_FULL_SBINDIR}")
set(WSD_BIN "${WSD_FULL_BINDIR}")
set(WSD_CONF "${WSD_FULL_SYSCONFDIR}/wsd/wsd.conf")
configure_file("${WSD_SRC_DIR}/wsd.service.in" "${WSD_OUT_DIR}/wsd.service" @ONLY)
configure_file("${WSD_SRC_DIR}/wsd.logrotate.in" "${WSD_OUT_DIR}/wsd" @ONLY)
