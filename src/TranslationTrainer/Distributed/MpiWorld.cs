using System.Diagnostics;
using System.Runtime.InteropServices;
using static MPI.Unsafe;
using TorchSharp;
using static TorchSharp.torch;

namespace TranslationTrainer.Distributed;

/// <summary>
/// The ranks of a job started by MPICH's mpiexec, through MPI.NET. MPI.NET is built for MS-MPI and calls a
/// library named "msmpi.dll"; MPICH has the same integer handles, so that name is pointed at libmpich.so.12
/// (Open MPI's handles are pointers: it cannot work). Every collective call runs under a watchdog: a rank
/// that waits longer than the timeout for the others aborts the whole job with a message instead of hanging.
/// </summary>
public sealed class MpiWorld : IWorld
{
    private const string MpichLibrary = "libmpich.so.12";
    /// <summary>MPI_IN_PLACE in MPICH (and MS-MPI): the send buffer is the receive buffer.</summary>
    private static readonly IntPtr InPlace = new(-1);
    private static IntPtr mpich;

    private readonly MPI.Environment environment;
    private readonly TimeSpan timeout;
    private readonly TextWriter errors;
    /// <summary>Stopwatch timestamp at which the collective call in progress started; 0 when none is.</summary>
    private long pendingSince;
    private string pendingCall = "";
    private volatile bool disposed;

    public int Rank { get; }
    public int Size { get; }
    public int LocalRank { get; }
    public int LocalSize { get; }

    private MpiWorld(TimeSpan timeout, TextWriter errors)
    {
        LoadMpich();
        this.timeout = timeout;
        this.errors = errors;
        string[] args = [];
        // Multiple: the watchdog thread may call MPI_Abort while the main thread is inside a collective call.
        environment = new MPI.Environment(ref args, MPI.Threading.Multiple);
        Rank = MPI.Communicator.world.Rank;
        Size = MPI.Communicator.world.Size;
        // MPICH's mpiexec (Hydra) says where a rank stands on its own machine.
        LocalRank = int.TryParse(Environment.GetEnvironmentVariable("MPI_LOCALRANKID"), out var localRank) ? localRank : Rank;
        LocalSize = int.TryParse(Environment.GetEnvironmentVariable("MPI_LOCALNRANKS"), out var localSize) ? localSize : Size;
        new Thread(Watch) { IsBackground = true, Name = "MPI watchdog" }.Start();
    }

    /// <summary>Joins the MPI job this process was launched in (or a job of one, outside mpiexec).</summary>
    public static MpiWorld Start(TimeSpan timeout, TextWriter errors) => new(timeout, errors);

    private static void LoadMpich()
    {
        if (mpich != IntPtr.Zero) return;
        if (!NativeLibrary.TryLoad(MpichLibrary, out mpich))
            throw new UserError($"MPI: cannot load {MpichLibrary}; install MPICH (apt-get install mpich) or train without `distributed` mpi");
        NativeLibrary.SetDllImportResolver(typeof(MPI.Environment).Assembly, (name, _, _) => name == "msmpi.dll" ? mpich : IntPtr.Zero);
    }

    public unsafe void SumInPlace(Tensor buffer)
    {
        RequireCpuContiguous(buffer);
        if (buffer.dtype != ScalarType.Float32) throw new ArgumentException("SumInPlace takes float32 tensors", nameof(buffer));
        int count = checked((int)buffer.numel());
        fixed (byte* data = buffer.bytes)
        {
            var pointer = (IntPtr)data;
            Collective("Allreduce", () => MPI_Allreduce(InPlace, pointer, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD));
        }
    }

    public unsafe void Broadcast(Tensor buffer)
    {
        RequireCpuContiguous(buffer);
        int count = checked((int)(buffer.numel() * buffer.element_size()));
        fixed (byte* data = buffer.bytes)
        {
            var pointer = (IntPtr)data;
            Collective("Broadcast", () => MPI_Bcast(pointer, count, MPI_BYTE, 0, MPI_COMM_WORLD));
        }
    }

    public void Abort(int exitCode)
    {
        errors.Flush();
        // mpiexec forwards a rank's stderr on its own time and MPI_Abort tears that down with the job: a moment first.
        Thread.Sleep(500);
        MPI_Abort(MPI_COMM_WORLD, exitCode);
        Environment.Exit(exitCode); // not reached: MPI_Abort ends the process
    }

    private static void RequireCpuContiguous(Tensor buffer)
    {
        if (buffer.device_type != DeviceType.CPU || !buffer.is_contiguous())
            throw new ArgumentException("MPI calls take contiguous CPU tensors", nameof(buffer));
    }

    private void Collective(string name, Func<int> call)
    {
        pendingCall = name;
        Interlocked.Exchange(ref pendingSince, Stopwatch.GetTimestamp());
        int code = call();
        Interlocked.Exchange(ref pendingSince, 0);
        if (code != MPI_SUCCESS) throw new InvalidOperationException($"MPI {name} failed with error code {code}");
    }

    /// <summary>
    /// A rank killed on one machine makes mpiexec end the job, but a rank that hangs, or a machine that drops
    /// off the network, would leave the others waiting forever: past the timeout, this rank aborts the job.
    /// </summary>
    private void Watch()
    {
        var poll = TimeSpan.FromMilliseconds(Math.Clamp(timeout.TotalMilliseconds / 4, 10, 1000));
        while (!disposed)
        {
            Thread.Sleep(poll);
            long since = Interlocked.Read(ref pendingSince);
            if (since == 0 || disposed || Stopwatch.GetElapsedTime(since) < timeout) continue;
            errors.WriteLine($"error: rank {Rank} waited {timeout.TotalMinutes:0.##} minutes for the other ranks in {pendingCall}: "
                + "a rank died or hangs; aborting the job (`distributed-timeout` sets the wait)");
            Abort(1);
        }
    }

    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        environment.Dispose();
    }
}
