// The `clowdr` executable: everything it does is in the ClowdrCLI library (Sources/ClowdrCLI), so that tests can parse
// its command lines and read its help in-process.
import ClowdrCLI

Clowdr.main()
