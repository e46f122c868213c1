# SPDX-License-Identifier: GPL-3.0-or-later
# FindFlite: the flite speech synthesiser (Debian flite1-dev), which ships no
# pkg-config file. Finds the core library, the US English language and
# lexicon libraries every voice needs, and the voices asked for as components
# (kal, kal16, awb, rms, slt: libflite_cmu_us_<voice>).
#
#   find_package(Flite REQUIRED COMPONENTS kal slt)
#
# Defines Flite_FOUND, Flite_VERSION (from flite_version.h), Flite_<voice>_FOUND
# and the imported targets Flite::Flite (core, language, lexicon; headers
# under flite/ on the include path, as flite's own headers include each other
# by bare name) and Flite::<voice> (a voice, linking Flite::Flite).

find_path(Flite_INCLUDE_DIR flite.h PATH_SUFFIXES flite)
find_library(Flite_LIBRARY flite)
find_library(Flite_USENGLISH_LIBRARY flite_usenglish)
find_library(Flite_CMULEX_LIBRARY flite_cmulex)
find_library(Flite_MATH_LIBRARY m)

if(Flite_INCLUDE_DIR AND EXISTS ${Flite_INCLUDE_DIR}/flite_version.h)
	file(STRINGS ${Flite_INCLUDE_DIR}/flite_version.h _flite_version_line
		REGEX "^#define[ \t]+FLITE_PROJECT_VERSION[ \t]+\"[^\"]*\"")
	string(REGEX REPLACE ".*\"([^\"]*)\".*" "\\1" Flite_VERSION
		"${_flite_version_line}")
	unset(_flite_version_line)
endif()

foreach(_voice IN LISTS Flite_FIND_COMPONENTS)
	find_library(Flite_${_voice}_LIBRARY flite_cmu_us_${_voice})
	if(Flite_${_voice}_LIBRARY)
		set(Flite_${_voice}_FOUND TRUE)
	else()
		set(Flite_${_voice}_FOUND FALSE)
	endif()
	mark_as_advanced(Flite_${_voice}_LIBRARY)
endforeach()

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(Flite
	REQUIRED_VARS Flite_LIBRARY Flite_USENGLISH_LIBRARY Flite_CMULEX_LIBRARY
		Flite_INCLUDE_DIR
	VERSION_VAR Flite_VERSION
	HANDLE_COMPONENTS
	REASON_FAILURE_MESSAGE "install Debian's flite1-dev")

if(Flite_FOUND AND NOT TARGET Flite::Flite)
	add_library(Flite::Flite UNKNOWN IMPORTED)
	set_target_properties(Flite::Flite PROPERTIES
		IMPORTED_LOCATION ${Flite_LIBRARY}
		INTERFACE_INCLUDE_DIRECTORIES ${Flite_INCLUDE_DIR})
	# Order matters for static archives: the language and lexicon use the
	# core, so they come first.
	set(_flite_deps ${Flite_USENGLISH_LIBRARY} ${Flite_CMULEX_LIBRARY})
	if(Flite_MATH_LIBRARY)
		list(APPEND _flite_deps ${Flite_MATH_LIBRARY})
	endif()
	set_property(TARGET Flite::Flite PROPERTY INTERFACE_LINK_LIBRARIES
		${_flite_deps} ${Flite_LIBRARY})
	unset(_flite_deps)
endif()

foreach(_voice IN LISTS Flite_FIND_COMPONENTS)
	if(Flite_${_voice}_FOUND AND NOT TARGET Flite::${_voice})
		add_library(Flite::${_voice} UNKNOWN IMPORTED)
		set_target_properties(Flite::${_voice} PROPERTIES
			IMPORTED_LOCATION ${Flite_${_voice}_LIBRARY}
			INTERFACE_LINK_LIBRARIES Flite::Flite)
	endif()
endforeach()
unset(_voice)

mark_as_advanced(Flite_INCLUDE_DIR Flite_LIBRARY Flite_USENGLISH_LIBRARY
	Flite_CMULEX_LIBRARY Flite_MATH_LIBRARY)
