# SPDX-License-Identifier: GPL-3.0-or-later
# Run by "cmake --install" (see CMakeLists.txt): writes the systemd units
# with the binaries' absolute installed paths. CMAKE_INSTALL_PREFIX is the
# prefix of this install, DESTDIR (if any) is prepended to where files go
# but not to the paths written inside them, as for any staged install.
foreach(var RB_UNIT_SOURCES RB_UNITDIR RB_BINDIR_REL RB_DOCDIR_REL)
	if(NOT DEFINED ${var})
		message(FATAL_ERROR "install_units.cmake: ${var} is not set")
	endif()
endforeach()

function(rb_abs out rel)
	if(IS_ABSOLUTE "${rel}")
		set(${out} "${rel}" PARENT_SCOPE)
	else()
		set(${out} "${CMAKE_INSTALL_PREFIX}/${rel}" PARENT_SCOPE)
	endif()
endfunction()

rb_abs(RB_BINDIR "${RB_BINDIR_REL}")
rb_abs(RB_DOCDIR "${RB_DOCDIR_REL}")
rb_abs(unitdir "${RB_UNITDIR}")
foreach(src ${RB_UNIT_SOURCES})
	get_filename_component(name "${src}" NAME_WLE)
	set(dest "$ENV{DESTDIR}${unitdir}/${name}")
	message(STATUS "Installing: ${dest}")
	configure_file("${src}" "${dest}" @ONLY)
	file(CHMOD "${dest}" PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ
		WORLD_READ)
	list(APPEND CMAKE_INSTALL_MANIFEST_FILES "${dest}")
endforeach()
