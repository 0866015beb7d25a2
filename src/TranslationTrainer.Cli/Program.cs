using System.Runtime.InteropServices;
using TranslationTrainer.Cli;
using TranslationTrainer.Distributed;

// Under mpiexec the ranks share the cores, so OpenMP threads must not spin while they wait (libgomp reads this when libtorch loads it, later).
if (OperatingSystem.IsLinux() && World.LaunchedByMpiexec) setenv("OMP_WAIT_POLICY", "PASSIVE", overwrite: 0);

return CliApp.Run(args, CliContext.Console);

// C's setenv: .NET's Environment.SetEnvironmentVariable does not reach the environment that libgomp reads.
[DllImport("libc", CharSet = CharSet.Ansi)]
static extern int setenv(string name, string value, int overwrite);
