import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandler.Sharable;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.epoll.EpollEventLoopGroup;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.LineBasedFrameDecoder;

/**
 * The benchmark's Netty peer: a line echo on one event-loop thread with Netty's native epoll transport,
 * as Netty's own examples write it (LineBasedFrameDecoder, write each line, flush once per read).
 *   java -jar target/netty-echo.jar PORT
 */
public final class NettyEcho {
    @Sharable
    static final class Echo extends ChannelInboundHandlerAdapter {
        @Override public void channelRead(ChannelHandlerContext ctx, Object line) { ctx.write(line); }
        @Override public void channelReadComplete(ChannelHandlerContext ctx) { ctx.flush(); }
        @Override public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) { ctx.close(); }
    }

    public static void main(String[] args) throws InterruptedException {
        int port = Integer.parseInt(args[0]);
        EventLoopGroup loop = new EpollEventLoopGroup(1); // one thread accepts and serves, like ours
        Echo echo = new Echo();
        try {
            new ServerBootstrap().group(loop).channel(EpollServerSocketChannel.class)
                    .option(ChannelOption.SO_BACKLOG, 4096)
                    .childOption(ChannelOption.TCP_NODELAY, true)
                    .childHandler(new ChannelInitializer<SocketChannel>() {
                        @Override protected void initChannel(SocketChannel ch) {
                            // keep the '\n' (stripDelimiter false), and pass on lines up to 16 KiB as ours does
                            ch.pipeline().addLast(new LineBasedFrameDecoder(16 * 1024, false, false), echo);
                        }
                    })
                    .bind(port).sync().channel().closeFuture().sync();
        } finally {
            loop.shutdownGracefully();
        }
    }
}
