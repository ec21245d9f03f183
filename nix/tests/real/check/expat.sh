# expat: upstream's unit tests, in C and in C++.
source "$checkCommon"
check runtests "$package_tests/bin/runtests"
check runtestspp "$package_tests/bin/runtestspp"
finish
